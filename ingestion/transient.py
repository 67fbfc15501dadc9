"""Which failures are a dependency being down (wait and retry) and which are not."""

from __future__ import annotations

import redis.exceptions
from kafka.errors import KafkaError

from ingestion.errors import TransientError


def is_transient(exc: BaseException) -> bool:
    """A dependency that is down or slow, not a record that cannot be handled."""
    if isinstance(exc, TransientError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, redis.exceptions.TryAgainError):  # a cluster slot is moving
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
