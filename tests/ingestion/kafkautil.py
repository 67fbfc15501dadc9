"""Test helpers that talk to the broker directly with kafka-python (no Vigil code)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from ingestion.contracts import Transaction
from ingestion.simulator import Simulator


def transactions(n: int, seed: int = 3) -> list[Transaction]:
    sim = Simulator(seed=seed, customers=60)
    return [sim.transaction() for _ in range(n)]


def produce_raw(bootstrap: str, topic: str, items: Sequence[tuple[bytes | None, bytes]]) -> None:
    prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in items:
        prod.send(topic, key=key, value=value)
    prod.flush()
    prod.close()


def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 20.0) -> list[Any]:
    """Every record of ``topic`` from the beginning, once ``expect`` of them are there."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=200).values():
                out.extend(recs)
        # anything beyond what was expected would be a bug too: drain briefly
        for recs in consumer.poll(timeout_ms=300).values():
            out.extend(recs)
        return out
    finally:
        consumer.close()


def committed(bootstrap: str, group: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group)
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in offsets.get(group, {}).items()}
