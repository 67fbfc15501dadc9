"""The committed golden stream, built from the seeded simulator and its scenarios.

Regenerate it with ``write_stream(build_golden(), path)`` (``evals.streams.format``);
every transaction is labelled by what the card fraud policy expects, not by what the code
does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from evals.streams.format import GoldenStream, StreamRecord
from ingestion.contracts import Event, MonitoringSignal, encode
from ingestion.simulator import SCENARIOS, Simulator
from vigil.settings import Stream

START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def _event(stream: Stream, event: Event, label: dict[str, Any] | None = None) -> StreamRecord:
    return StreamRecord(stream, event.key, json.loads(encode(event)), label=label or {})


MALFORMED = (
    ("not JSON", '{"transaction_id": '),
    (
        "a card number in card_id",
        '{"transaction_id": "bad-pan", "user_id": "cust-00003", '
        '"card_id": "4111 1111 1111 1111", "timestamp": "2026-11-03T08:05:00Z", "amount": "9.99", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    (
        "card-present without a place",
        '{"transaction_id": "bad-place", "user_id": "cust-00004", '
        '"card_id": "card-x", "timestamp": "2026-11-03T08:06:00Z", "amount": "12.00", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_present"}',
    ),
    (
        "a negative amount",
        '{"transaction_id": "bad-amount", "user_id": "cust-00005", '
        '"card_id": "card-y", "timestamp": "2026-11-03T08:07:00Z", "amount": "-3", '
        '"currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    (
        "a schema this code cannot read",
        '{"schema_version": 9, "transaction_id": "bad-v9", '
        '"user_id": "cust-00006", "card_id": "card-z", "timestamp": "2026-11-03T08:08:00Z", '
        '"amount": "5.00", "currency": "GBP", "merchant": "Shop", "channel": "card_not_present"}',
    ),
    ("a JSON array", "[1, 2, 3]"),
)


def build_golden(seed: int = 11, customers: int = 40, background: int = 300) -> GoldenStream:
    """Seeded traffic with the fraud scenarios mixed in, every transaction labelled by
    what the card fraud policy expects (not by what the code does)."""
    sim = Simulator(seed=seed, customers=customers, start=START, rate=2.0)
    records = [_event(Stream.CUSTOMER_CHANGES, c) for c in sim.profile_upserts()]
    readings, _ = sim.asset_run(hours=1, degrading=None)
    records += [_event(Stream.SENSOR_READINGS, r) for r in readings]
    # the genuine traffic first, then the scenarios, in time order: a scenario spliced into
    # the middle would make the victim's next genuine payment impossible travel
    txs = [
        _event(Stream.TRANSACTIONS, sim.transaction(), {"decision": "allow"})
        for _ in range(background)
    ]
    story = SCENARIOS["london-paris"](sim)
    txs += [
        _event(Stream.TRANSACTIONS, story[0], {"decision": "allow"}),
        _event(Stream.TRANSACTIONS, story[1], {"decision": "block"}),
    ]
    # the policy: the fifth small online payment within 120 s and every one after it
    txs += [
        _event(Stream.TRANSACTIONS, t, {"decision": "block" if i >= 4 else "allow"})
        for i, t in enumerate(SCENARIOS["card-testing"](sim))
    ]
    txs += [
        _event(Stream.TRANSACTIONS, t, {"decision": "hold"}) for t in SCENARIOS["amount-spike"](sim)
    ]
    for i, (why, raw) in enumerate(MALFORMED):
        txs.insert(
            50 + 60 * i, StreamRecord(Stream.TRANSACTIONS, None, raw=raw, label={"dlq": why})
        )
    records += txs
    minor = sim.monitoring_signal().model_copy(update={"severity": "minor"})
    storm, repeat = SCENARIOS["storm"](sim)
    assert isinstance(storm, MonitoringSignal)
    records += [_event(Stream.MONITORING_SIGNALS, s) for s in (minor, storm, repeat)]
    londoners = sorted(p.customer_id for p in sim.customers if p.home.name == "London")
    expect = {"alerts": {storm.signal_id: [*londoners, "operations"]}, "work_orders": []}
    return GoldenStream(
        "golden",
        records,
        expect,
        f"seed {seed}: {customers} customers, {background} background transactions, "
        "london-paris, card testing, an amount spike, malformed records, a repeated storm",
    )
