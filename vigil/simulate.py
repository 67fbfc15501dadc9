"""Play simulator traffic into Kafka at a target rate."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingestion.contracts import Event
from ingestion.producer import EventProducer
from ingestion.simulator import SCENARIOS, Simulator, check_run_id
from ingestion.simulator.fraud import FraudSimulation
from vigil.settings import Settings


@dataclass
class SimPlan:
    seed: int = 7
    customers: int = 200
    count: int = 1000
    rate: float = 200.0
    start: datetime | None = None
    scenarios: list[str] = field(default_factory=list)  # only these, no background traffic
    inject: list[str] = field(default_factory=list)  # these, spread through the traffic
    profiles: bool = True  # begin with every customer's profile upsert
    #: tags every id (see ``Simulator``): a fresh one per run makes a run new events on a
    #: used data folder; None leaves ids untagged (the same seed and start: the same ids)
    run: str | None = None
    #: > 0: instead of the scenarios traffic, a labelled fraud history of this many days
    #: (``ingestion.simulator.fraud``): profiles, payments, and each label once it is known
    fraud_days: int = 0

    def validate(self) -> None:
        unknown = [s for s in [*self.scenarios, *self.inject] if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {unknown}; choose from {sorted(SCENARIOS)}")
        if self.count < 0 or self.rate < 0 or self.customers < 1:
            raise ValueError("count and rate must be >= 0 and customers >= 1")
        if self.run is not None:
            check_run_id(self.run)
        if not 0 <= self.fraud_days <= 120:
            raise ValueError("--fraud-days must be from 0 (off) to 120")
        if self.fraud_days and (self.scenarios or self.inject):
            raise ValueError("--fraud-days publishes a fraud history of its own: no --scenario "
                             "or --inject with it")  # fmt: skip


def plan_events(plan: SimPlan) -> Iterator[Event]:
    """The events a plan produces, in order: reproducible for a seed, start time and run."""
    plan.validate()
    if plan.fraud_days:
        yield from fraud_history(plan)
        return
    sim = Simulator(
        seed=plan.seed, customers=plan.customers, start=plan.start, rate=plan.rate, run=plan.run
    )
    if plan.scenarios:
        for name in plan.scenarios:
            yield from SCENARIOS[name](sim)
        return
    if plan.profiles:
        yield from sim.profile_upserts()
    background = itertools.islice(sim.events(), plan.count)
    if not plan.inject:
        yield from background
        return
    # spread the injected scenarios evenly through the background traffic
    every = max(1, plan.count // (len(plan.inject) + 1))
    pending = list(plan.inject)
    for i, event in enumerate(background, 1):
        yield event
        if pending and i % every == 0:
            yield from SCENARIOS[pending.pop(0)](sim)
    for name in pending:
        yield from SCENARIOS[name](sim)


def fraud_history(plan: SimPlan) -> Iterator[Event]:
    """A labelled fraud history as the topics would see it: every customer's profile, then
    the payments in time order, each label published before the first payment made after
    it became known (chargebacks days later, customers' reports within hours). Starts
    ``fraud_days`` before now (midnight UTC) unless the plan says when."""
    start = plan.start or (datetime.now(UTC) - timedelta(days=plan.fraud_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    history = FraudSimulation(seed=plan.seed, shoppers=plan.customers, days=plan.fraud_days,
                              start=start, run=plan.run).run()  # fmt: skip
    if plan.profiles:
        yield from history.profiles
    labels, j = history.labels, 0
    for p in history.payments:
        while j < len(labels) and labels[j].known_at <= p.tx.timestamp:
            yield labels[j]
            j += 1
        yield p.tx
    yield from labels[j:]


@dataclass
class Produced:
    event: Event
    topic: str
    partition: int
    offset: int


def produce(
    settings: Settings,
    events: Iterable[Event],
    *,
    rate: float = 0.0,
    stop: threading.Event | None = None,
    on_produced: Callable[[Produced], None] | None = None,
    producer: EventProducer | None = None,
) -> Counter[str]:
    """Send events at ``rate`` per second (0 = as fast as possible); wait for every ack."""
    own = producer is None
    prod = producer or EventProducer(settings)
    counts: Counter[str] = Counter()
    pending: list[tuple[Event, Any]] = []
    t0 = last_settle = time.monotonic()
    try:
        for i, event in enumerate(events):
            if stop is not None and stop.is_set():
                break
            if rate > 0:
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            pending.append((event, prod.send(event)))
            now = time.monotonic()
            if len(pending) >= 500 or now - last_settle >= 0.25:
                _settle(prod, pending, counts, on_produced)
                last_settle = now
        _settle(prod, pending, counts, on_produced)
    finally:
        if own:
            prod.close()
    return counts


def _settle(
    prod: EventProducer,
    pending: list[tuple[Event, Any]],
    counts: Counter[str],
    on_produced: Callable[[Produced], None] | None,
) -> None:
    metas = prod.wait([f for _, f in pending])
    for (event, _), meta in zip(pending, metas, strict=True):
        counts[meta.topic] += 1
        if on_produced is not None:
            on_produced(Produced(event, meta.topic, meta.partition, meta.offset))
    pending.clear()
