"""Screening rules on a real Redis: one round trip per batch, one verdict per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from agents.fraud.screening import Screener
from ingestion.contracts import (
    CustomerChange,
    CustomerProfilePatch,
    FraudDecision,
    Transaction,
    encode,
)
from ingestion.profiles import RedisProfileStore
from tests.conftest import base_settings

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)


def tx(
    n: int, *, user: str = "cust-1", card: str = "card-1", seconds: float = 0, **kw: Any
) -> Transaction:
    values: dict[str, Any] = {
        "transaction_id": f"tx-{n}",
        "user_id": user,
        "card_id": card,
        "timestamp": T0 + timedelta(seconds=seconds),
        "amount": Decimal("20.00"),
        "currency": "GBP",
        "merchant": "Shop",
        "channel": "card_present",
        "lat": LONDON[0],
        "lon": LONDON[1],
    }
    values.update(kw)
    return Transaction(**values)


@pytest.fixture
def screener(redis_client: tuple[Any, str]) -> Screener:
    client, prefix = redis_client
    s = base_settings(redis_prefix=prefix.rstrip(":"))
    profiles = RedisProfileStore(client, prefix=s.redis_prefix)
    profiles.apply(
        [
            CustomerChange(
                event_id="c1", customer_id="cust-1", version=1, op="upsert",
                profile=CustomerProfilePatch(name="Ann", usual_amount=Decimal("40.00"), flags=[]),
            ),
            CustomerChange(
                event_id="c2", customer_id="cust-2", version=1, op="upsert",
                profile=CustomerProfilePatch(name="Bo", usual_amount=Decimal("50"),
                                             flags=["fraud_watch"]),
            ),
        ]
    )  # fmt: skip
    return Screener(client, s)


def test_clear_traffic_is_allowed_with_its_signals(screener: Screener) -> None:
    (first,) = screener.screen([tx(1, amount=Decimal("30.00"))])
    assert first.outcome == "allow"
    assert first.risk == 0.0
    assert first.signals["amount_ratio"] == 0.75  # 30 / the stored usual 40.00
    assert "speed_mph" not in first.signals  # first card-present use: nothing to compare


def test_impossible_travel_in_one_batch_and_the_same_answer_on_redelivery(
    screener: Screener,
) -> None:
    batch = [tx(1), tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1])]
    _, paris = screener.screen(batch)
    assert paris.outcome == "escalate"
    assert paris.signals["previous_transaction_id"] == "tx-1"
    assert float(paris.signals["speed_mph"] or 0) > 10_000
    assert any("mph" in r for r in paris.reasons)
    # a later, plausible use moves the card on; the re-delivered batch still gets its answer
    screener.screen([tx(3, seconds=3 * 3600, lat=PARIS[0], lon=PARIS[1])])
    _, again = screener.screen(batch)
    assert again.signals == paris.signals
    assert again.outcome == "escalate"


def test_amount_spike_and_flagged_customer(screener: Screener) -> None:
    spike, flagged = screener.screen(
        [tx(1, amount=Decimal("1200.00")), tx(2, user="cust-2", card="card-2")]
    )
    assert spike.outcome == "escalate"
    assert spike.signals["amount_ratio"] == 30.0
    assert flagged.signals["flagged"] is True
    assert flagged.outcome == "escalate"
    assert "fraud_watch" in flagged.reasons[-1]


def test_amounts_are_compared_in_gbp_whatever_the_currency(screener: Screener) -> None:
    """Usual amounts are kept in GBP: 3,000 yen is a coffee and a sandwich, not 75x."""
    yen, euros, unknown = screener.screen(
        [
            tx(1, amount=Decimal("3000"), currency="JPY"),
            tx(2, card="card-2b", amount=Decimal("585.00"), currency="EUR"),
            tx(3, card="card-3b", amount=Decimal("9000"), currency="XAU"),
        ]
    )
    assert yen.outcome == "allow"
    assert yen.signals["amount_ratio"] == 0.39  # 3000 / 190 per GBP / 40
    assert euros.signals["amount_ratio"] == 12.5  # 585 / 1.17 / 40: a spike
    assert euros.outcome == "escalate"
    assert "amount_ratio" not in unknown.signals  # no rate: the rule cannot judge it
    assert unknown.outcome == "allow"
    assert unknown.signals["amount_rule"] == "not applied: no_rate"  # and says so
    assert unknown.reasons == [
        "amount rule not applied: no exchange rate for XAU (VIGIL_FRAUD_FX_PER_GBP)"
    ]
    assert unknown.not_applied == (("amount", "no_rate"),)


def test_categories_of_large_tickets_need_a_larger_spike(screener: Screener) -> None:
    flight, tv, ring = screener.screen(
        [
            tx(1, amount=Decimal("1200.00"), merchant_category="travel"),  # 30x
            tx(2, card="card-2c", amount=Decimal("2000.00"), merchant_category="electronics"),
            tx(3, card="card-3c", amount=Decimal("800.00"), merchant_category="jewellery"),
        ]
    )
    assert flight.outcome == "allow"  # travel: 10 x 10 = 100x before it is a spike
    assert tv.outcome == "escalate"  # 50x against electronics' 40x
    assert ring.outcome == "escalate"  # 20x against the plain 10x


def test_card_testing_burst_counts_each_payment_once(screener: Screener) -> None:
    s = screener.s
    online: dict[str, Any] = {
        "channel": "card_not_present",
        "lat": None,
        "lon": None,
        "amount": Decimal("1.00"),
    }
    burst = [tx(i, seconds=i, **online) for i in range(s.fraud_card_testing_count)]
    verdicts = screener.screen(burst)
    assert [v.signals["card_testing_count"] for v in verdicts] == list(
        range(1, s.fraud_card_testing_count + 1)
    )
    assert verdicts[-1].outcome == "escalate"
    assert verdicts[0].outcome == "allow"
    # re-delivery does not inflate the count
    again = screener.screen(burst[-1:])
    assert again[0].signals["card_testing_count"] == s.fraud_card_testing_count


def test_unknown_customer_and_empty_batch(screener: Screener) -> None:
    assert screener.screen([]) == []
    (v,) = screener.screen([tx(1, user="cust-nobody", card="card-9")])
    assert v.outcome == "allow"
    assert "amount_ratio" not in v.signals
    assert v.not_applied == (("amount", "no_usual_amount"),)


def test_every_decision_is_what_its_contract_reads_back(screener: Screener) -> None:
    """Decisions are built without validation (the hot path): each must be exactly the
    event a consumer validates from its bytes, whatever the rules said."""
    batch = [
        tx(1), tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1]), tx(3, amount=Decimal("1200.00")),
        tx(4, user="cust-2", card="card-2"), tx(5, currency="XAU", card="card-5"),
        tx(6, user="cust-nobody", card="card-6"),
    ]  # fmt: skip
    for verdict in screener.screen(batch):
        decision = verdict.decision()
        assert FraudDecision.model_validate_json(encode(decision)) == decision
        assert decision.pending_action == ("hold" if verdict.outcome == "escalate" else None)
