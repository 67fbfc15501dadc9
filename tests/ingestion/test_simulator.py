"""The simulator: reproducible, plausible background traffic, and scenarios that stand out."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, datetime

import pytest

from ingestion.contracts import (
    CONTRACTS,
    Event,
    MaintenanceLog,
    MonitoringSignal,
    SensorReading,
    Transaction,
    decode,
    encode,
)
from ingestion.simulator import JOHN, SCENARIOS, Simulator, new_run_id
from vigil.simulate import SimPlan, plan_events

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def km(a: Transaction, b: Transaction) -> float:
    assert a.lat is not None
    assert a.lon is not None
    assert b.lat is not None
    assert b.lon is not None
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_same_seed_and_start_give_the_same_bytes() -> None:
    def run(seed: int) -> list[bytes]:
        plan = SimPlan(seed=seed, customers=40, count=500, start=START, inject=["card-testing"])
        return [encode(e) for e in plan_events(plan)]

    assert run(5) == run(5)
    assert run(5) != run(6)


#: the ids an agent dedups by: events, transactions, signals
ID_FIELDS = ("event_id", "transaction_id", "signal_id")


def ids(events: list[Event]) -> set[str]:
    return {getattr(e, f) for e in events for f in ID_FIELDS if hasattr(e, f)}


def test_a_run_tag_makes_the_events_new_and_keeps_the_story() -> None:
    def play(run: str | None) -> list[Event]:
        plan = SimPlan(scenarios=list(SCENARIOS), start=START, run=run, customers=5)
        return list(plan_events(plan))

    first, second = new_run_id(), new_run_id()
    assert first != second
    a, b = play(first), play(second)
    assert ids(a)
    assert not ids(a) & ids(b)
    assert [encode(e) for e in play(first)] == [encode(e) for e in a]  # a run replays exactly
    for x, y in zip(a, b, strict=True):  # the same story: only those ids differ
        assert x.model_dump(exclude=set(ID_FIELDS)) == y.model_dump(exclude=set(ID_FIELDS))
    # the feed repeats a storm warning within a run (one signal id), not across runs
    storms = [{e.signal_id for e in run if isinstance(e, MonitoringSignal)} for run in (a, b)]
    assert all(len(s) == 1 for s in storms)
    assert storms[0] != storms[1]
    # the pump's past jobs are the same jobs in every run: sent again, they replace themselves
    past = [{e.log_id for e in run if isinstance(e, MaintenanceLog)} for run in (a, b)]
    assert past[0] == past[1]
    for e in a:
        assert decode(type(e), encode(e)) == e  # tagged ids are valid contracts
    assert ids(play(None)) == ids(play(None))  # untagged: the same seed, the same ids


def test_a_run_id_that_could_not_be_a_key_is_refused() -> None:
    for bad in ("", "a/b", "UPPER", "x" * 17, "a b"):
        with pytest.raises(ValueError, match="run id"):
            list(plan_events(SimPlan(scenarios=["storm"], run=bad)))


def test_every_generated_event_is_a_valid_contract() -> None:
    plan = SimPlan(customers=30, count=3000, start=START, inject=list(SCENARIOS))
    kinds = set()
    for event in plan_events(plan):
        kinds.add(type(event).__name__)
        assert decode(type(event), encode(event)) == event
    assert kinds >= {
        "Transaction",
        "CustomerChange",
        "SensorReading",
        "MonitoringSignal",
        "KnowledgeDocument",
    }
    assert {m.__name__ for m in CONTRACTS.values()} >= kinds


def test_london_paris_is_the_founding_story() -> None:
    atm, coffee = plan_events(SimPlan(scenarios=["london-paris"], start=START))
    assert isinstance(atm, Transaction)
    assert isinstance(coffee, Transaction)
    assert atm.user_id == coffee.user_id == JOHN.customer_id
    assert atm.card_id == coffee.card_id
    assert (atm.channel, atm.city) == ("atm", "London")
    assert (coffee.channel, coffee.city, coffee.merchant_category) == (
        "card_present",
        "Paris",
        "coffee",
    )
    seconds = (coffee.timestamp - atm.timestamp).total_seconds()
    assert seconds == 40
    mph = km(atm, coffee) / seconds * 3600 / 1.609344
    assert mph > 19_000


def test_background_traffic_has_no_impossible_travel() -> None:
    sim = Simulator(seed=9, customers=25, start=START, rate=0.0005)  # ~33 min between events
    last: dict[str, Transaction] = {}
    checked = 0
    for _ in range(5000):
        tx = sim.transaction()
        if tx.lat is None:
            continue
        prev = last.get(tx.card_id)
        if prev is not None:
            hours = (tx.timestamp - prev.timestamp).total_seconds() / 3600
            distance = km(prev, tx)
            if distance > 100:
                checked += 1
                assert distance / max(hours, 1e-9) < 1000, (prev, tx)
        last[tx.card_id] = tx
    assert checked > 0, "nobody ever travelled: the check above proved nothing"


def test_card_testing_is_a_burst_of_tiny_online_payments_on_one_card() -> None:
    burst = SCENARIOS["card-testing"](Simulator(seed=2, customers=20, start=START))
    assert len(burst) >= 10
    txs = [e for e in burst if isinstance(e, Transaction)]
    assert len({t.card_id for t in txs}) == 1
    assert all(t.channel == "card_not_present" and t.amount <= 2 for t in txs)
    assert len({t.merchant for t in txs}) >= 5
    assert (txs[-1].timestamp - txs[0].timestamp).total_seconds() < 120


def test_amount_spike_is_far_above_the_customers_usual() -> None:
    sim = Simulator(seed=4, customers=20, start=START)
    [spike] = SCENARIOS["amount-spike"](sim)
    assert isinstance(spike, Transaction)
    owner = next(c for c in sim.customers if c.customer_id == spike.user_id)
    assert spike.amount >= 20 * owner.usual_amount


def test_the_degrading_asset_vibrates_more_over_time() -> None:
    sim = Simulator(seed=1, customers=5, start=START)
    readings = [r for r in (sim.sensor_reading() for _ in range(3000)) if r.asset_id == "pump-03"]
    assert len(readings) > 100
    early = statistics.mean(r.metrics["vibration_mm_s"] for r in readings[:50])
    late = statistics.mean(r.metrics["vibration_mm_s"] for r in readings[-50:])
    assert late > 2 * early
    healthy = [r for r in (sim.sensor_reading() for _ in range(500)) if r.asset_id == "pump-01"]
    assert all(isinstance(r, SensorReading) for r in healthy)
    assert statistics.mean(r.metrics["vibration_mm_s"] for r in healthy) < early * 1.3


def test_plan_counts_and_injects() -> None:
    plan = SimPlan(customers=10, count=200, start=START, inject=["london-paris"])
    events = list(plan_events(plan))
    assert len(events) == 10 + 200 + 2
    assert any(isinstance(e, Transaction) and e.merchant == "ATM King's Cross" for e in events)
    assert len(list(itertools.islice(plan_events(SimPlan(count=0, customers=3)), 100))) == 3


def test_unknown_scenario_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="london-paris"):
        list(plan_events(SimPlan(scenarios=["moon-landing"])))


def test_a_simulation_drifts_its_own_john_not_the_founding_storys() -> None:
    """A simulation's credit-score drift once changed the module's John in place: every
    later simulator of the process (the seed, the golden stream) started John at 790."""
    from ingestion.contracts import CustomerChange
    from ingestion.seed import seed_customers
    from vigil.simulate import SimPlan, plan_events

    events = list(plan_events(SimPlan(seed=3, customers=3, count=3000, run="drift")))
    drifted = [e for e in events if isinstance(e, CustomerChange)
               and e.customer_id == JOHN.customer_id and e.op == "patch"]  # fmt: skip
    assert drifted, "the traffic changed John's profile"
    assert JOHN.credit_score == 795
    [john] = [c for c in seed_customers(3) if c.customer_id == JOHN.customer_id]
    assert john.profile is not None
    assert john.profile.credit_score == 795
