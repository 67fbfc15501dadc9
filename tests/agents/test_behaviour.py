"""Behaviour features on a real Redis: windows that decay, an answer that holds on
re-delivery, arrival order that does not matter, and the rules over them."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.fraud.behaviour import TAUS_MS, Answers, BehaviourKeys, Features
from agents.fraud.screening import Screener
from ingestion.contracts import CustomerChange, CustomerProfilePatch, Transaction
from ingestion.profiles import RedisProfileStore
from tests.agents.test_screening import LONDON, PARIS, tx
from tests.conftest import base_settings


def online(n: int, *, seconds: float = 0, amount: str = "30.00", **kw: Any) -> Transaction:
    """An online payment (no location: velocity stays out of it) above card-testing size."""
    return tx(n, seconds=seconds, amount=Decimal(amount), channel="card_not_present",
              lat=None, lon=None, **kw)  # fmt: skip


@pytest.fixture
def screen(redis_client: tuple[Any, str]) -> Any:
    client, prefix = redis_client
    return Screener(client, base_settings(redis_prefix=prefix.rstrip(":"), fraud_features=True))


def test_windows_count_and_decay_with_the_time_between_payments(screen: Screener) -> None:
    screen.screen([online(i, seconds=60 * i) for i in range(3)])  # three within 2 minutes
    (later,) = screen.screen([online(9, seconds=2 * 3600)])  # two hours after the first
    f = later.signals
    # each earlier payment weighs exp(-age / window)
    ages_ms = [2 * 3600_000 - 60_000 * i for i in range(3)]
    for window, tau in zip(("1h", "1d", "7d", "30d"), TAUS_MS, strict=True):
        expected = sum(math.exp(-a / tau) for a in ages_ms)
        assert f[f"card_payments_{window}"] == pytest.approx(expected, abs=0.01)
        assert f[f"card_amount_{window}"] == pytest.approx(30 * expected, abs=0.05)
        assert f[f"customer_payments_{window}"] == pytest.approx(expected, abs=0.01)
    assert f["card_idle_s"] == pytest.approx(2 * 3600 - 120)
    assert f["customer_history"] == 3
    assert f["customer_mean_amount"] == pytest.approx(30)
    assert f["customer_amount_std"] == pytest.approx(0, abs=0.01)
    assert f["new_category"] is False  # "other", as the three before


def test_state_expires_after_the_ttl_and_answers_after_the_dedupe_window(
    screen: Screener,
) -> None:
    screen.screen([online(1)])
    keys = BehaviourKeys(screen.prefix).of("card-1", "cust-1", "tx-1", None)
    s = screen.s
    for key in keys[:2]:
        ttl = screen.client.pttl(key)
        assert s.fraud_features_ttl_s * 1000 - 5000 < ttl <= s.fraud_features_ttl_s * 1000
    # the customer's categories and shops outlive its state (not written every payment)
    outlive = s.fraud_features_ttl_s * 1250
    assert outlive - 5000 < screen.client.pttl(keys[5]) <= outlive
    seen = screen.client.pttl(keys[2])
    assert s.fraud_features_dedupe_s * 1000 - 5000 < seen <= s.fraud_features_dedupe_s * 1000


def test_a_redelivered_batch_gets_the_same_answer_and_adds_nothing(screen: Screener) -> None:
    batch = [online(i, seconds=10 * i) for i in range(4)]
    first = screen.screen(batch)
    card, user, *_ = BehaviourKeys(screen.prefix).of("card-1", "cust-1", "tx-0", None)
    state = screen.client.mget([card, user])
    assert None not in state
    again = screen.screen(batch)
    assert [a.signals for a in again] == [b.signals for b in first]
    assert screen.client.mget([card, user]) == state
    # twice in one batch: one answer, counted once
    (twin, same) = screen.screen([online(7, seconds=60), online(7, seconds=60)])
    assert twin.signals == same.signals
    (after,) = screen.screen([online(8, seconds=61)])
    assert after.signals["customer_history"] == 5  # tx-0 to tx-3 and tx-7, once each


def test_a_customers_shops_are_written_when_they_change_or_before_they_expire(
    screen: Screener,
) -> None:
    """A customer's categories and terminals (the ``known`` key) are not written with
    every payment, only when they change, or once a quarter of the features' TTL has
    passed (by the server's clock) since they were: a customer who keeps to the same
    shops keeps them."""
    client = screen.client
    _card, user, *_, known = BehaviourKeys(screen.prefix).of("card-1", "cust-1", "tx-1", None)
    screen.screen([online(1, terminal_id="shop-1")])
    client.pexpire(known, 60_000)
    screen.screen([online(2, seconds=60, terminal_id="shop-1")])  # nothing new
    assert 0 < client.pttl(known) <= 60_000, "written again with nothing changed"
    screen.screen([online(3, seconds=120, terminal_id="shop-2")])  # a new shop
    ttl_ms = screen.s.fraud_features_ttl_s * 1000
    assert client.pttl(known) > ttl_ms - 5000
    client.pexpire(known, 60_000)
    unpacker = msgpack.Unpacker(raw=False)  # written a TTL ago by the server's clock
    unpacker.feed(client.get(user))
    state = list(unpacker)
    state[14] -= ttl_ms
    client.set(user, b"".join(msgpack.packb(v) for v in state), keepttl=True)
    screen.screen([online(4, seconds=180, terminal_id="shop-2")])
    assert client.pttl(known) > ttl_ms - 5000, "kept from expiring"


def test_the_order_of_arrival_does_not_change_the_state(
    redis_client: tuple[Any, str],
) -> None:
    client, prefix = redis_client
    seen = []
    for order, run in (((0, 1, 2), "a"), ((2, 0, 1), "b")):
        s = base_settings(redis_prefix=f"{prefix}{run}", fraud_features=True)
        screener = Screener(client, s)
        payments = [online(i, seconds=900 * i, amount=f"{10 + 5 * i}.00") for i in range(3)]
        for i in order:  # one batch each: a late payment joins with the weight it would have
            screener.screen([payments[i]])
        (probe,) = screener.screen([online(9, seconds=3600)])  # what the state says after
        seen.append(probe.signals)
    assert seen[0].keys() == seen[1].keys()
    for name, value in seen[0].items():
        if isinstance(value, float):
            assert seen[1][name] == pytest.approx(value, rel=1e-6), name
        else:
            assert seen[1][name] == value, name


def test_an_amount_far_above_the_customers_own_usual_escalates_with_its_reason(
    screen: Screener,
) -> None:
    history = [online(i, seconds=3600 * i, amount=f"{28 + i % 5}.00") for i in range(10)]
    judged = screen.screen(history)
    assert all(d.outcome == "allow" for d in judged)
    assert ("own_amount", "short_history") in judged[4].not_applied  # 4 seen, 5 needed
    assert ("own_amount", "short_history") not in judged[5].not_applied
    (big,) = screen.screen([online(20, seconds=3600 * 12, amount="150.00")])
    assert big.outcome == "escalate"
    [reason] = [r for r in big.reasons if "usual" in r and "GBP" in r]
    assert reason.startswith("amount 5.0x this customer's usual 30 GBP")
    # three times the mean is not enough for a customer whose amounts vary that much
    amounts = ["10.00", "90.00", "15.00", "80.00", "12.00", "95.00"]
    varied = [
        online(100 + i, seconds=3600 * i, amount=a, user="cust-2", card="card-2")
        for i, a in enumerate(amounts)
    ]
    screen.screen(varied)
    (usual_for_them,) = screen.screen(
        [online(200, seconds=3600 * 12, amount="160.00", user="cust-2", card="card-2")]
    )
    assert not any("this customer's usual" in r for r in usual_for_them.reasons)
    # ... while for a customer whose amounts hardly vary, 3.3x is well past their spread
    steady = [
        online(300 + i, seconds=3600 * i, amount=f"{28 + i % 5}.00", user="cust-3",
               card="card-3") for i in range(10)
    ]  # fmt: skip
    screen.screen(steady)
    (spike,) = screen.screen(
        [online(400, seconds=3600 * 12, amount="100.00", user="cust-3", card="card-3")]
    )
    assert any(r.startswith("amount 3.3x this customer's usual") for r in spike.reasons)


def test_a_burst_on_one_card_against_its_usual_rate_escalates(screen: Screener) -> None:
    day = 86400
    history = [online(i, seconds=day * i) for i in range(6)]  # a payment a day
    assert all(d.outcome == "allow" for d in screen.screen(history))
    # every two minutes: the window's count of the last hour weighs each by exp(-age / 1 h),
    # 4.7 with the fifth payment, 5.5 with the sixth
    burst = screen.screen([online(10 + i, seconds=6 * day + 120 * i) for i in range(6)])
    assert [d.outcome for d in burst[:5]] == ["allow"] * 5
    assert burst[5].outcome == "escalate"
    [reason] = [r for r in burst[5].reasons if "payments on this card" in r]
    assert reason == "6 payments on this card in about the last hour; it usually makes 0.2 a day"
    # a new card has no usual rate: the same burst alone says nothing
    fresh = screen.screen([online(30 + i, seconds=120 * i, card="card-9") for i in range(6)])
    assert all(d.outcome == "allow" for d in fresh)
    # and says so, in the decision and in the counter's key
    assert ("card_burst", "new_card") in fresh[5].not_applied
    assert fresh[5].signals["card_burst_rule"] == "not applied: new_card"
    assert any(r.startswith("card_burst rule not applied: the card has") for r in fresh[5].reasons)


def test_a_currency_without_a_rate_is_counted_but_adds_no_amount(screen: Screener) -> None:
    screen.screen([online(1, amount="500.00", currency="BRL")])
    (after,) = screen.screen([online(2, seconds=60)])
    assert after.signals["card_payments_1h"] == pytest.approx(math.exp(-1 / 60), abs=0.01)
    assert after.signals["card_amount_1h"] == 0
    assert after.signals["customer_history"] == 0  # its mean learned nothing from it


def test_a_located_payment_is_measured_from_the_customers_home(screen: Screener) -> None:
    home = CustomerProfilePatch(name="Ann", home_lat=LONDON[0], home_lon=LONDON[1])
    RedisProfileStore(screen.client, prefix=screen.prefix).apply(
        [CustomerChange(customer_id="cust-1", version=1, op="upsert", profile=home)]
    )
    paris = tx(1, lat=PARIS[0], lon=PARIS[1])
    (away, online_order, no_home) = screen.screen(
        [paris, online(2, seconds=60), tx(3, user="cust-7", card="card-7")]
    )
    assert away.signals["home_distance_km"] == pytest.approx(343.6, abs=0.5)
    assert online_order.signals["home_distance_km"] is None  # nowhere to measure
    assert no_home.signals["home_distance_km"] is None  # a profile of schema 1: no home


def test_features_can_be_turned_off(redis_client: tuple[Any, str]) -> None:
    client, prefix = redis_client
    off = Screener(client, base_settings(redis_prefix=prefix.rstrip(":"), fraud_features=False))
    (d,) = off.screen([online(1)])
    assert "card_payments_1h" not in d.signals
    assert client.exists(BehaviourKeys(off.prefix).of("card-1", "cust-1", "tx-1", None)[0]) == 0


amounts = st.one_of(
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999999999999"), places=4),
    st.sampled_from([Decimal("0.0001"), Decimal("999999999999.9999"), Decimal("1E+11")]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(amounts, min_size=1, max_size=6),
    gaps=st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=6, max_size=6),
    currency=st.sampled_from(["GBP", "JPY", "XXX"]),
)
def test_extreme_amounts_and_times_give_finite_features(
    screen: Screener, values: list[Decimal], gaps: list[int], currency: str
) -> None:
    """Amounts from a ten-thousandth to 10^12, payments up to 30 years apart in any order,
    currencies with and without a rate: every feature a finite number, nothing raised."""
    run = f"h{abs(hash((tuple(values), tuple(gaps)))) % 10**9}"
    batch = [
        online(i, seconds=gaps[i], amount=str(v), currency=currency, card=f"card-{run}",
               user=f"cust-{run}").model_copy(update={"transaction_id": f"{run}-{i}"})
        for i, v in enumerate(values)
    ]  # fmt: skip
    for d in screen.screen(batch):
        for name, value in d.signals.items():
            if isinstance(value, float):
                assert math.isfinite(value), (name, value)
        assert d.decision().risk_score <= 1


def test_features_read_what_the_script_answers() -> None:
    numbers = [1, 30, 2, 60, 3, 90, 4, 120, -1, 1, 30, 2, 60, 3, 90, 4, 120, 7, 31.5, 2.0, 1,
               -1, -1, -1, -1]  # fmt: skip
    other = [0.5] * 8 + [90_000] + [1.25] * 8 + [3, 20.0, 4.5, 0, 1, 2.5, 40, 2]
    answers = Answers.parse([struct.pack("<25d", *numbers), struct.pack("<25d", *other)])
    f, g = answers.features
    assert f.card_idle_s is None
    assert f.terminal_payments is None
    assert f.terminal_frauds is None
    assert f.new_terminal is None
    assert f.user_payments == 7
    assert f.user_std == 2.0
    assert f.new_category is True
    assert f.card_daily_rate() == pytest.approx(3 / 30)
    assert f.signals()["card_payments_30d"] == 4
    assert f.signals()["customer_history"] == 7
    assert type(f.signals()["customer_history"]) is int
    assert g.card_idle_s == 90.0
    assert g.new_category is False
    assert g.new_terminal is True
    assert (g.terminal_payments, g.terminal_frauds) == (40, 2)
    assert type(g.terminal_payments) is int
    assert g.signals()["card_new_terminals_1h"] == 2.5
    assert Features(numbers) == f
    with pytest.raises(ValueError, match="answer of 168 bytes, not 200"):
        Answers.parse([struct.pack("<21d", *[0] * 21)])
