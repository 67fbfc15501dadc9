"""Side effects applied at most once, by idempotency key, even across crashes.

``emit_once`` records the event under its key before publishing it and marks it
published after the broker's ack. A retry (a re-delivered event, a restarted worker)
finds the record: it returns the first outcome, and publishes it only if the first
attempt died before the ack. Consumers see each event id at least once and
de-duplicate by it; the effect itself (the record) happens exactly once.
"""

from __future__ import annotations

from typing import TypeVar

import redis

from ingestion import tracing
from ingestion.contracts import Event
from ingestion.producer import Publisher

E = TypeVar("E", bound=Event)

_CLAIM = r"""
if redis.call("HSETNX", KEYS[1], "event", ARGV[1]) == 1 then
  redis.call("HSET", KEYS[1], "published", "0")
  return {1, ARGV[1], "0"}
end
local cur = redis.call("HMGET", KEYS[1], "event", "published")
return {0, cur[1], cur[2]}
"""


class OnceEmitter:
    def __init__(self, client: redis.Redis, publisher: Publisher, *, prefix: str = "vigil") -> None:
        self.client = client
        self.publisher = publisher
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)

    def key(self, kind: str, idempotency_key: str) -> str:
        return f"{self.prefix}:once:{kind}:{idempotency_key}"

    def emit_once(self, kind: str, idempotency_key: str, event: E) -> tuple[E, bool]:
        """(the event that counts, True if this call applied it)."""
        key = self.key(kind, idempotency_key)
        with tracing.span(f"vigil.effect {kind}", **{
            "vigil.effect.kind": kind, "vigil.effect.key": idempotency_key}) as span:  # fmt: skip
            first, stored, published = self._claim(keys=[key], args=[event.model_dump_json()])
            winner = type(event).model_validate_json(stored)
            if published in (b"0", "0"):
                self.publisher.publish([winner])
                self.client.hset(key, "published", "1")
            if span is not None:
                span.set_attribute("vigil.effect.applied", bool(first))
            return winner, bool(first)

    def recorded(self, kind: str, idempotency_key: str, model: type[E]) -> E | None:
        raw = self.client.hget(self.key(kind, idempotency_key), "event")
        return None if raw is None else model.model_validate_json(raw)
