"""Each card's last payments in a real Redis: written by screening's own batch script, in
time order, once per payment, bounded, and read back as the analyst's case shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.fraud.screening import Screener
from ingestion.contracts import Transaction
from tests.conftest import base_settings
from tools.card_history import MERCHANT_MAX, CardHistory, parse

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def pay(n: int, seconds: float, *, card: str = "card-1", **kw: Any) -> Transaction:
    values: dict[str, Any] = {
        "transaction_id": f"tx-{n}", "user_id": "cust-1", "card_id": card,
        "timestamp": T0 + timedelta(seconds=seconds), "amount": Decimal("12.50"),
        "currency": "GBP", "merchant": "Corner Shop", "merchant_category": "grocery",
        "channel": "card_present", "lat": 51.5074, "lon": -0.1278, "city": "London",
        "country": "GB",
    }  # fmt: skip
    values.update(kw)
    return Transaction(**values)


def screener(redis_client: tuple[Any, str], keep: int = 3) -> Screener:
    client, prefix = redis_client
    s = base_settings(redis_prefix=prefix.rstrip(":"), fraud_card_recent=keep)
    return Screener(client, s)


def test_screening_keeps_each_cards_last_payments_newest_first(
    redis_client: tuple[Any, str],
) -> None:
    s = screener(redis_client, keep=3)
    online = pay(9, 5, card="card-2", channel="card_not_present", lat=None, lon=None,
                 city=None, amount=Decimal("2.00"))  # fmt: skip
    s.screen([pay(1, 0), online, pay(2, 60), pay(3, 120)])
    s.screen([pay(4, 180), pay(3, 120)])  # tx-3 again: a re-delivery adds nothing
    recent = s.history.recent("card-1")
    assert [p["transaction_id"] for p in recent] == ["tx-4", "tx-3", "tx-2"]  # the last 3
    assert recent[0] == {
        "transaction_id": "tx-4", "amount": "12.50", "currency": "GBP",
        "merchant": "Corner Shop", "merchant_category": "grocery", "channel": "card_present",
        "city": "London", "country": "GB", "lat": 51.5074, "lon": -0.1278,
        "timestamp": (T0 + timedelta(seconds=180)).isoformat(),
    }  # fmt: skip
    [card2] = s.history.recent("card-2")  # an online payment: no place
    assert (card2["transaction_id"], card2["lat"], card2["city"]) == ("tx-9", None, None)
    ttl = s.client.ttl(f"{s.history.prefix}card-1")
    assert 0 < ttl <= s.history.ttl_s


def test_a_late_payment_takes_its_place_in_time(redis_client: tuple[Any, str]) -> None:
    s = screener(redis_client, keep=3)
    s.screen([pay(1, 0), pay(3, 120)])
    s.screen([pay(2, 60)])  # made between them, seen after
    assert [p["transaction_id"] for p in s.history.recent("card-1")] == ["tx-3", "tx-2", "tx-1"]
    s.screen([pay(0, -60)])  # older than the three kept: it is the one cut
    assert [p["transaction_id"] for p in s.history.recent("card-1")] == ["tx-3", "tx-2", "tx-1"]


def test_none_kept_when_the_setting_is_zero(redis_client: tuple[Any, str]) -> None:
    s = screener(redis_client, keep=0)
    [verdict] = s.screen([pay(1, 0)])
    assert verdict.outcome == "allow"  # screening itself is unchanged
    assert s.history.recent("card-1") == []
    assert not s.client.exists(f"{s.history.prefix}card-1")


def test_the_history_is_kept_with_the_behaviour_features_too(
    redis_client: tuple[Any, str],
) -> None:
    """The features' arguments follow the history's in the same script: both read right."""
    client, prefix = redis_client
    s = Screener(client, base_settings(redis_prefix=prefix.rstrip(":"), fraud_features=True,
                                       fraud_model=False))  # fmt: skip
    verdicts = s.screen([pay(n, n * 3600) for n in range(1, 5)])
    seen = [float(v.signals["card_payments_30d"] or 0) for v in verdicts]
    assert seen == sorted(seen)  # the features read their own arguments, not the history's
    assert seen[-1] > 0
    assert [p["transaction_id"] for p in s.history.recent("card-1")] == [
        "tx-4", "tx-3", "tx-2", "tx-1"]  # fmt: skip


def test_a_long_merchant_name_is_kept_short(redis_client: tuple[Any, str]) -> None:
    s = screener(redis_client)
    s.screen([pay(1, 0, merchant="M" * 2000)])
    [kept] = s.history.recent("card-1")
    assert kept["merchant"] == "M" * MERCHANT_MAX


texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\x1f\x7f"),
    min_size=1, max_size=300,
).filter(lambda t: t.strip() and not any(0x00 <= ord(c) < 0x09 or 0x0B <= ord(c) <= 0x1F
                                          or 0x7F <= ord(c) <= 0x9F for c in t))  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(merchant=texts, amount=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e11"),
                                          places=4),
       lat=st.floats(-90, 90), lon=st.floats(-180, 180), card=st.from_regex(
           r"\A[A-Za-z0-9][A-Za-z0-9_:@+=-]{0,95}\Z"))  # fmt: skip
def test_hostile_payments_read_back_as_they_were_made(
    redis_client: tuple[Any, str], merchant: str, amount: Decimal, lat: float, lon: float,
    card: str,
) -> None:  # fmt: skip
    """Any text the contract lets through (tabs, newlines, any script), extreme amounts and
    places, any card id the contract allows: read back exactly (the merchant cut)."""
    client, prefix = redis_client
    history = CardHistory(client, prefix=prefix + "recent:", keep=2)
    t = pay(1, 0, merchant=merchant, amount=amount, lat=lat, lon=lon, card=card)
    history.add([t])
    [kept] = history.recent(t.card_id)
    assert kept["merchant"] == t.merchant[:MERCHANT_MAX]
    assert Decimal(kept["amount"]) == t.amount
    assert (kept["lat"], kept["lon"]) == (t.lat, t.lon)
    client.delete(f"{prefix}recent:{t.card_id}")


@pytest.mark.parametrize("card", ["", "../etc", "a/b", "card 1", "x" * 97, "é", "\ud800",
                                  "card\n1", "-card"])  # fmt: skip
def test_a_card_id_that_is_not_an_id_is_refused(redis_client: tuple[Any, str], card: str) -> None:
    client, prefix = redis_client
    with pytest.raises(ValueError, match="card id is 1 to 96"):
        CardHistory(client, prefix=prefix + "recent:").recent(card)


def test_a_member_that_does_not_parse_says_so() -> None:
    assert parse(b"1\x1ftx") == {"unreadable": "a stored payment with 2 fields, not 11"}
