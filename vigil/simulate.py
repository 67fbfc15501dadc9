"""Play simulator traffic into Kafka at a target rate."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingestion.contracts import Event
from ingestion.producer import EventProducer
from ingestion.simulator import SCENARIOS, Simulator, check_run_id
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

    def validate(self) -> None:
        unknown = [s for s in [*self.scenarios, *self.inject] if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {unknown}; choose from {sorted(SCENARIOS)}")
        if self.count < 0 or self.rate < 0 or self.customers < 1:
            raise ValueError("count and rate must be >= 0 and customers >= 1")
        if self.run is not None:
            check_run_id(self.run)


def plan_events(plan: SimPlan) -> Iterator[Event]:
    """The events a plan produces, in order: reproducible for a seed, start time and run."""
    plan.validate()
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
