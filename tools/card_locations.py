"""Each card's last card-present use, in Redis, for the velocity check.

One script per transaction does the read-compare-write atomically, so concurrent
workers never interleave on a card, and caches its answer under the transaction id so a
re-delivered event gets exactly the answer it got the first time (even after newer
events moved the card on). An older event arriving late is compared with the latest use
but never moves the card back in time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from ingestion.redis_keys import as_text
from tools.velocity import Sighting

#: the service's key space for card locations: ``<service prefix>:vel:...``
NAMESPACE = "vel"


def key_prefix(service_prefix: str) -> str:
    """The prefix of the card-location keys of a service whose Redis prefix this is."""
    return f"{service_prefix}:{NAMESPACE}"


#: The observation as a Lua function, so batch scripts (screening) run the very same logic.
OBSERVE_FUNCTION = r"""
local function observe(card_key, seen_key, tx, ts, lat, lon, ttl)
  local cached = redis.call("GET", seen_key)
  if cached then return cached end
  local cur = redis.call("HMGET", card_key, "tx", "ts", "lat", "lon")
  local answer = ""
  if cur[1] then answer = cur[1] .. "\31" .. cur[2] .. "\31" .. cur[3] .. "\31" .. cur[4] end
  if (not cur[2]) or tonumber(ts) >= tonumber(cur[2]) then
    redis.call("HSET", card_key, "tx", tx, "ts", ts, "lat", lat, "lon", lon)
    redis.call("EXPIRE", card_key, ttl)
  end
  redis.call("SET", seen_key, answer, "EX", ttl)
  return answer
end
"""

_OBSERVE = (
    OBSERVE_FUNCTION
    + "return observe(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n"
)


class CardLocationStore:
    """``observe`` a located use, get back the use to compare it with (or None)."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = key_prefix("vigil"), ttl_s: int = 2_592_000
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._observe = client.register_script(_OBSERVE)

    @classmethod
    def for_service(cls, client: redis.Redis, service_prefix: str) -> CardLocationStore:
        """The store under the service's Redis prefix (every worker and tool shares it)."""
        return cls(client, prefix=key_prefix(service_prefix))

    def _keys(self, card_id: str, transaction_id: str) -> list[str]:
        return [f"{self.prefix}:card:{card_id}", f"{self.prefix}:seen:{transaction_id}"]

    def observation(self, card_id: str, sighting: Sighting) -> tuple[list[str], list[str]]:
        """The keys and arguments of one observation (for scripts that batch them)."""
        if not sighting.located:
            raise ValueError("only card-present uses with a location are stored")
        ms = int(sighting.timestamp.timestamp() * 1000)
        return self._keys(card_id, sighting.transaction_id), [
            sighting.transaction_id,
            str(ms),
            repr(sighting.lat),
            repr(sighting.lon),
        ]

    def observe(self, card_id: str, sighting: Sighting) -> Sighting | None:
        return parse_answer(self.queue(card_id, sighting))

    def queue(self, card_id: str, sighting: Sighting, pipe: Any = None) -> Any:
        """Run the observation now, or queue it on ``pipe`` (batch it with other commands);
        feed the reply to ``parse_answer``."""
        keys, args = self.observation(card_id, sighting)
        return self._observe(keys=keys, args=[*args, self.ttl_s], client=pipe)

    def last(self, card_id: str) -> Sighting | None:
        tx, ts, lat, lon = self.client.hmget(
            f"{self.prefix}:card:{card_id}", "tx", "ts", "lat", "lon"
        )
        if tx is None or ts is None or lat is None or lon is None:
            return None
        return _sighting(tx, ts, lat, lon)

    def forget(self, card_id: str) -> bool:
        """Drop the card's last use, so its next use is compared with nothing (the answers
        cached per transaction stay); True if there was one."""
        return bool(self.client.delete(f"{self.prefix}:card:{card_id}"))


def parse_answer(raw: bytes | str | None) -> Sighting | None:
    if not raw:
        return None
    text = as_text(raw)
    tx, ts, lat, lon = text.split("\x1f")
    return _sighting(tx, ts, lat, lon)


def _sighting(tx: bytes | str, ts: bytes | str, lat: bytes | str, lon: bytes | str) -> Sighting:
    return Sighting(
        transaction_id=as_text(tx),
        timestamp=datetime.fromtimestamp(int(as_text(ts)) / 1000, tz=UTC),
        lat=float(as_text(lat)),
        lon=float(as_text(lon)),
        channel="card_present",
    )
