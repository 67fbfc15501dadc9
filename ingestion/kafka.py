"""Kafka plumbing shared by the producer, the runner and the CLI: config, reachability, topics.

Only the Kafka protocol is used (kafka-python 3), nothing broker-specific: the
same code runs against the embedded Tansu broker and against Apache Kafka.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from ingestion.errors import KafkaUnavailableError
from vigil.settings import Settings

log = logging.getLogger(__name__)


def require_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise KafkaUnavailableError(
            "no Kafka configured: set VIGIL_KAFKA_BOOTSTRAP=host:port, "
            "or run `vigil up` to start the embedded broker"
        )
    return settings.kafka_bootstrap


def client_config(settings: Settings) -> dict[str, Any]:
    """What every Kafka client of Vigil's is built with: the brokers, and how it
    authenticates and encrypts (``kafka_security``: SASL and TLS when set)."""
    return {
        "bootstrap_servers": require_bootstrap(settings).split(","),
        "client_id": settings.kafka_client_id,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        **settings.kafka_security(),
    }


def consumer_config(settings: Settings) -> dict[str, Any]:
    """A consumer's: the client's, and never a topic created by asking for it (a typo'd or
    missing topic is an error, not a topic with the broker's default partitions)."""
    return {**client_config(settings), "allow_auto_create_topics": False}


def producer_config(settings: Settings) -> dict[str, Any]:
    """Every producer's delivery settings (Vigil's and the benchmarks' raw baselines)."""
    return {
        **client_config(settings),
        "allow_auto_create_topics": False,  # (consumer_config)
        "acks": "all",
        "linger_ms": settings.kafka_producer_linger_ms,
        "batch_size": settings.kafka_producer_batch_bytes,
        "retries": 5,
        # Retries must not reorder a key's records.
        "max_in_flight_requests_per_connection": 1,
        # No idempotent producer: its producer id lives in the broker, and a broker that
        # restarted without it (the embedded one keeps nothing) failed every publish
        # with "InitProducerIdResponse UnknownError" until the process restarted. One
        # request in flight keeps each key's order; a retry's duplicate is absorbed by
        # the consumers, which are idempotent (at-least-once throughout).
        "enable_idempotence": False,
    }


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise KafkaUnavailableError(
                f"bad Kafka bootstrap address {item!r}: expected host:port (e.g. 127.0.0.1:9092)"
            )
        out.append((host.strip("[]"), int(port)))
    return out


def wait_for_kafka(bootstrap: str, timeout: float) -> None:
    """Return once one bootstrap server accepts TCP, else raise a clear error."""
    hosts = _hosts(bootstrap)
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while True:
        for host, port in hosts:
            try:
                with socket.create_connection((host, port), timeout=1.0):
                    return
            except OSError as exc:
                last = exc
        if time.monotonic() >= deadline:
            raise KafkaUnavailableError(
                f"cannot reach Kafka at {bootstrap} after {timeout:.0f} s ({last}). "
                "Is the broker running? Check VIGIL_KAFKA_BOOTSTRAP, or unset it to use "
                "the embedded broker started by `vigil up`."
            )
        time.sleep(0.2)


def ensure_topics(settings: Settings, topics: Iterable[str] | None = None) -> list[str]:
    """Create the missing topics with their configured partition counts and replication;
    return the new ones. Idempotent, and safe when several processes start at once (the
    API, each agent replica, ``vigil topics ensure``): a topic another one created first is
    there, which is all that is needed. Vigil never relies on a broker creating a topic on
    first use (its clients ask it not to: ``allow_auto_create_topics``)."""
    wanted = list(dict.fromkeys(topics if topics is not None else settings.all_topics()))
    try:
        admin = KafkaAdminClient(**client_config(settings))
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailableError(f"cannot reach Kafka to ensure the topics: {exc!r}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        created: list[str] = []
        for topic in missing:
            n = settings.partitions(topic)
            new = NewTopic(topic, n, settings.kafka_replication_factor)
            try:
                admin.create_topics([new])
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another process won the race: the topic is there, which is all we need
            except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
                raise KafkaUnavailableError(
                    f"topic {topic!r} is missing and these credentials may not create it "
                    f"({type(exc).__name__}): create it with {n} partitions and replication "
                    f"{settings.kafka_replication_factor}, or grant CREATE on it"
                ) from exc
            except KafkaError as exc:
                raise KafkaUnavailableError(f"cannot create topic {topic!r}: {exc}") from exc
        return created
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot list the topics: {exc}") from exc
    finally:
        with contextlib.suppress(KafkaError, OSError):
            admin.close()


def topic_partitions(settings: Settings, topics: Sequence[str]) -> dict[str, int]:
    """How many partitions each of ``topics`` has on the broker (a missing one: 0)."""
    admin = KafkaAdminClient(**client_config(settings))
    try:
        found = admin.describe_topics(list(topics))
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot describe the topics: {exc}") from exc
    finally:
        with contextlib.suppress(KafkaError, OSError):
            admin.close()
    counts = {str(t.get("topic") or t.get("name")): len(t.get("partitions") or ()) for t in found}
    return {t: counts.get(t, 0) for t in topics}


def read_topic(
    settings: Settings, topic: str, *, idle_s: float = 1.0, timeout: float = 30.0
) -> list[Any]:
    """Every record of ``topic`` from the beginning (kafka-python ConsumerRecords), read
    until nothing new arrives for ``idle_s`` or ``timeout`` passes. No group, no commits."""
    consumer = KafkaConsumer(**consumer_config(settings), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < idle_s:
            got = consumer.poll(timeout_ms=200)
            for records in got.values():
                out.extend(records)
            if got:
                quiet_since = time.monotonic()
        return out
    finally:
        with contextlib.suppress(KafkaError, OSError):
            consumer.close()


def drop_topics(settings: Settings, topics: Iterable[str]) -> list[str]:
    """Delete these topics where they exist (best effort: a broker that refuses is logged);
    return the ones deleted."""
    admin = KafkaAdminClient(**client_config(settings))
    try:
        existing = set(admin.list_topics())
        doomed = [t for t in dict.fromkeys(topics) if t in existing]
        if doomed:
            admin.delete_topics(doomed)
        return doomed
    except KafkaError as exc:
        log.warning("could not delete topics %s: %s", list(topics)[:3], exc)
        return []
    finally:
        with contextlib.suppress(KafkaError, OSError):
            admin.close()


class _GroupAdmin(KafkaAdminClient):  # type: ignore[misc]
    """kafka-python 3 always asks DescribeGroups for the authorized operations and fails
    (``ValueError: 15 is not a valid ACLOperation``) on a broker that reports one it does
    not know (Tansu does); Vigil never reads them, so they are dropped, not decoded."""

    def _process_acl_operations(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("authorized_operations", None)
        return obj


def describe_groups(settings: Settings, groups: Sequence[str]) -> dict[str, Any]:
    """kafka-python's DescribeGroups answer per group id (members with their assignments)."""
    admin = _GroupAdmin(**client_config(settings))
    try:
        described: dict[str, Any] = admin.describe_groups(list(groups))
        return described
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot describe the consumer groups: {exc}") from exc
    finally:
        with contextlib.suppress(KafkaError, OSError):
            admin.close()


@dataclass(frozen=True)
class Backlog:
    """What a consumer group has not committed yet on a topic, and since when."""

    records: int
    #: broker timestamp (ms) of the oldest uncommitted record; None when there is none
    oldest_ms: int | None
    partitions: dict[int, int]

    def oldest_age_s(self, now_ms: float | None = None) -> float | None:
        if self.oldest_ms is None:
            return None
        return max(0.0, ((now_ms or time.time() * 1000) - self.oldest_ms) / 1000)


def group_backlog(settings: Settings, group: str, topic: str, wait_s: float = 3.0) -> Backlog:
    """The group's backlog on ``topic`` as the broker sees it (committed offsets against the
    ends), with the timestamp of the first uncommitted record: it holds whether or not any
    member is running. Each partition is read from its committed offset once; its end is
    the larger of the listed end offset and the high watermark of that fetch (a broker
    may list the start of its last batch: the embedded one does)."""
    admin = _GroupAdmin(**client_config(settings))
    consumer = KafkaConsumer(**consumer_config(settings), enable_auto_commit=False)
    try:
        committed = admin.list_group_offsets(group).get(group, {})  # kafka-python 3: by group
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return Backlog(0, None, {})
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        at: dict[TopicPartition, int] = {}
        for tp in tps:
            done = committed.get(tp)
            at[tp] = done.offset if done is not None and done.offset >= 0 else starts[tp]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, at[tp])
        first: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                if records and tp not in first:
                    first[tp] = records[0].timestamp
                    consumer.pause(tp)
            known = {tp for tp in tps if consumer.highwater(tp) is not None}
            if all(tp in first or (tp in known and consumer.highwater(tp) <= at[tp]) for tp in tps):
                break
        lag = {
            tp.partition: max(0, max(ends[tp], consumer.highwater(tp) or 0) - at[tp]) for tp in tps
        }
        oldest = min(first.values(), default=None)
        return Backlog(sum(lag.values()), oldest, lag)
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot read the backlog of {group}: {exc}") from exc
    finally:
        with contextlib.suppress(KafkaError, OSError):
            consumer.close()
        with contextlib.suppress(KafkaError, OSError):
            admin.close()


class BrokerProbe:
    """Readiness of the broker, asked for real: a metadata request for ``topic`` with a
    short timeout on a client kept between checks (it reconnects by itself when the
    broker comes back). A cached view of the cluster never answers for a dead broker."""

    def __init__(self, settings: Settings, topic: str, timeout_s: float = 2.0) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_ms = int(timeout_s * 1000)
        self._admin: KafkaAdminClient | None = None
        self._lock = threading.Lock()

    def check(self) -> str:
        """A one-line detail; raises KafkaUnavailableError saying what failed."""
        with self._lock:
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(
                        **{**client_config(self.settings), "request_timeout_ms": self.timeout_ms},
                        bootstrap_timeout_ms=self.timeout_ms,
                    )
                found = self._admin.describe_topics([self.topic])
            except (KafkaError, OSError) as exc:
                raise KafkaUnavailableError(f"the broker did not answer: {exc!r}") from exc
        partitions = found[0].get("partitions") or [] if found else []
        if not partitions:
            code = found[0].get("error_code") if found else None
            raise KafkaUnavailableError(
                f"the broker answers, but topic {self.topic} is missing (error code {code}): "
                "`vigil up`, `vigil seed` or `vigil simulate` creates them"
            )
        return f"metadata answered: {len(partitions)} partitions of {self.topic}"

    def close(self) -> None:
        with self._lock, contextlib.suppress(KafkaError, OSError):
            if self._admin is not None:
                self._admin.close()
            self._admin = None
