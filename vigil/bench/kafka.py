"""``vigil bench kafka``: our producer and runner against raw kafka-python, same broker, same run.

Produce: ``EventProducer.send(event)`` (encode + key + send) against a raw ``KafkaProducer``
sending pre-encoded bytes. Consume: ``ConsumerRunner`` (poll, decode + validate every
record, hand the batch to a no-op handler, commit) against a raw ``KafkaConsumer`` loop
that only counts records. Group joins are excluded: each side is timed from its first
polled record to its last record (runner: last commit). Rounds alternate raw and
runner so machine noise hits both; the medians are compared.
"""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer
from rich.console import Console
from rich.table import Table

from ingestion.contracts import Transaction, encode
from ingestion.kafka import consumer_config, ensure_topics, producer_config
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner, Received
from ingestion.simulator import Simulator
from vigil.runtime.stack import Stack
from vigil.settings import Settings

GOAL_CONSUME_RATIO = 0.70


@dataclass
class Round:
    raw_produce: float
    our_produce: float
    raw_consume: float
    our_consume: float


def _events(n: int) -> list[Transaction]:
    sim = Simulator(seed=42, customers=500, rate=1000.0)
    out: list[Transaction] = []
    while len(out) < n:
        ev = sim.transaction()
        out.append(ev)
    return out


def _raw_produce(settings: Settings, topic: str, events: Sequence[Transaction]) -> float:
    payloads = [(e.key.encode(), encode(e)) for e in events]
    # the same delivery guarantees as EventProducer, so only the code path differs
    prod = KafkaProducer(**producer_config(settings))
    t0 = time.perf_counter()
    for key, value in payloads:
        prod.send(topic, key=key, value=value)
    prod.flush()
    dt = time.perf_counter() - t0
    prod.close()
    return len(payloads) / dt


def _our_produce(settings: Settings, topic: str, events: Sequence[Transaction]) -> float:
    prod = EventProducer(settings)
    t0 = time.perf_counter()
    for e in events:
        prod.send(e, topic=topic)
    prod.flush()
    dt = time.perf_counter() - t0
    prod.close()
    return len(events) / dt


def raw_consumer(settings: Settings, topic: str, kind: str) -> KafkaConsumer:
    """A plain kafka-python group member with the runner's consumer settings."""
    return KafkaConsumer(
        topic,
        **consumer_config(settings),
        group_id=f"bench-{kind}-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_records=settings.runner_batch_size,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )


def raw_consume(settings: Settings, topic: str, n: int) -> float:
    consumer = raw_consumer(settings, topic, "raw")
    seen = 0
    first: float | None = None
    deadline = time.monotonic() + 120
    while seen < n and time.monotonic() < deadline:
        polled = consumer.poll(timeout_ms=200)
        if polled and first is None:
            first = time.monotonic()
        for records in polled.values():
            seen += len(records)
    last = time.monotonic()
    consumer.close(autocommit=False)
    if first is None or seen < n:
        raise RuntimeError(f"raw consumer read {seen} of {n} records")
    return seen / max(last - first, 1e-9)


def _our_consume(settings: Settings, topic: str, n: int) -> float:
    def handler(batch: Sequence[Received[Transaction]]) -> None:
        return None

    runner = ConsumerRunner(
        settings,
        topic=topic,
        model=Transaction,
        handler=handler,
        group=f"bench-runner-{uuid.uuid4().hex[:8]}",
    )
    try:
        m = runner.run(count=n, timeout=120)
    finally:
        runner.close()
    if m.processed < n or m.first_records_at is None or m.last_commit_at is None:
        raise RuntimeError(f"runner processed {m.processed} of {n} records")
    return m.processed / max(m.last_commit_at - m.first_records_at, 1e-9)


def run_kafka_bench(settings: Settings, console: Console, *, events: int, rounds: int) -> None:
    data = _events(events)
    with Stack(settings, create_topics=False) as eff:
        console.print(f"broker {eff.kafka_bootstrap}: {events:,} transactions x {rounds} rounds")
        results: list[Round] = []
        for i in range(rounds):
            raw_topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
            our_topic = f"bench.ours.{uuid.uuid4().hex[:8]}"
            ensure_topics(eff, [raw_topic, our_topic, eff.dlq_topic(our_topic)])
            # alternate which side goes first, so warm-up and noise fall on both
            order = [("raw", raw_topic), ("ours", our_topic)]
            if i % 2:
                order.reverse()
            rates: dict[str, tuple[float, float]] = {}
            for side, topic in order:
                if side == "raw":
                    p = _raw_produce(eff, topic, data)
                    c = raw_consume(eff, topic, events)
                else:
                    p = _our_produce(eff, topic, data)
                    c = _our_consume(eff, topic, events)
                rates[side] = (p, c)
            r = Round(rates["raw"][0], rates["ours"][0], rates["raw"][1], rates["ours"][1])
            results.append(r)
            console.print(
                f"round {i + 1}: produce raw {r.raw_produce:,.0f}/s ours {r.our_produce:,.0f}/s; "
                f"consume raw {r.raw_consume:,.0f}/s runner {r.our_consume:,.0f}/s"
            )
    _report(console, results)


def _report(console: Console, results: list[Round]) -> None:
    def med(xs: itertools.chain[float] | list[float]) -> float:
        return statistics.median(list(xs))

    raw_p = med([r.raw_produce for r in results])
    our_p = med([r.our_produce for r in results])
    raw_c = med([r.raw_consume for r in results])
    our_c = med([r.our_consume for r in results])
    table = Table(
        "path", "baseline (raw kafka-python)", "Vigil", "ratio", title="vigil bench kafka"
    )
    table.add_row("produce", f"{raw_p:,.0f} ev/s", f"{our_p:,.0f} ev/s", f"{our_p / raw_p:.2f}")
    table.add_row(
        "consume (decode+validate+commit)",
        f"{raw_c:,.0f} ev/s",
        f"{our_c:,.0f} ev/s",
        f"{our_c / raw_c:.2f}",
    )
    console.print(table)
    ratio = our_c / raw_c
    verdict = "[green]meets[/]" if ratio >= GOAL_CONSUME_RATIO else "[red]misses[/]"
    console.print(
        f"runner keeps {ratio:.0%} of raw consume throughput: {verdict} "
        f"the goal of {GOAL_CONSUME_RATIO:.0%}"
    )
