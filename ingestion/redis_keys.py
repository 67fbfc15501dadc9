"""Small helpers over plain Redis that every layer shares."""

from __future__ import annotations

import redis


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (clients built without ``decode_responses`` return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def delete_prefixed(client: redis.Redis, prefix: str) -> int:
    """Delete every key under ``<prefix>:`` (a run's or a test's own); how many went."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    return len(keys)
