"""The event producer: acks=all, keyed by each event's entity so per-entity order holds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from ingestion.contracts import Event, encode
from ingestion.errors import DeliveryError
from ingestion.kafka import producer_config
from ingestion.partitioner import KeyHashPartitioner
from vigil.settings import Settings

Headers = Sequence[tuple[str, bytes]]


class Publisher(Protocol):
    """What tools need to emit events: publish and wait for the broker's ack."""

    def publish(
        self, events: Iterable[Event], *, topic: str | None = None, timeout: float = 30.0
    ) -> list[Any]: ...


class EventProducer:
    """Publishes contract events to their configured topics.

    ``send`` is asynchronous (returns kafka-python's future); ``publish`` sends a batch
    and returns only once the broker acknowledged every record, raising DeliveryError
    otherwise. Use ``publish`` wherever a later step (an offset commit) depends on the
    record being durable.
    """

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self.settings = settings
        config = {**producer_config(settings), "partitioner": KeyHashPartitioner(), **overrides}
        self._producer = KafkaProducer(**config)

    @classmethod
    def for_agents(cls, settings: Settings) -> EventProducer:
        """An agents' replica's producer: lingers ``agents_producer_linger_ms`` to fill
        its requests (every path that sends through it flushes before going on)."""
        return cls(settings, linger_ms=settings.agents_producer_linger_ms)

    def topic_for(self, event: Event) -> str:
        return self.settings.topic(event.STREAM)

    def send(self, event: Event, *, topic: str | None = None, headers: Headers = ()) -> Any:
        return self.send_raw(
            topic or self.topic_for(event), encode(event), key=event.key.encode(),
            headers=headers,
        )  # fmt: skip

    def send_raw(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Headers = ()
    ) -> Any:
        try:
            return self._producer.send(topic, key=key, value=value, headers=list(headers))
        except KafkaTimeoutError as exc:  # no metadata for the topic within max_block_ms
            raise DeliveryError(
                f"topic {topic!r} is not on the broker, or the broker did not answer ({exc}): "
                "Vigil never has a topic created on first use; `vigil topics ensure` creates "
                "its topics"
            ) from exc

    def publish(
        self, events: Iterable[Event], *, topic: str | None = None, timeout: float = 30.0
    ) -> list[Any]:
        """Send and wait for every acknowledgement; return the record metadata in order."""
        futures = [self.send(e, topic=topic) for e in events]
        return self.wait(futures, timeout)

    def wait(self, futures: Sequence[Any], timeout: float = 30.0) -> list[Any]:
        self._producer.flush(timeout=timeout)
        out = []
        for future in futures:
            try:
                out.append(future.get(timeout=timeout))
            except KafkaError as exc:
                raise DeliveryError(f"broker did not acknowledge a record: {exc}") from exc
        return out

    def partitions_for(self, topic: str) -> set[int]:
        """The topic's partitions, from the broker's metadata (a readiness probe)."""
        found: set[int] | None = self._producer.partitions_for(topic)
        return found or set()

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(KafkaError):
            self._producer.close(timeout=timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
