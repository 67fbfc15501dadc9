"""How the risk bands are set on the held-out days: the false-flag budget counts what the
rules flag and what a card's review holds, and leaves out the payments whose truth is not
settled yet (around a card's known fraud). Pure functions: no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.fraud.training import Example, routine, under_review, unsettled

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OWN = {"new_terminal": False, "home_distance_km": 3.0, "amount_gbp": 25.0,
       "customer_mean_amount": 30.0, "customer_history": 40,
       "card_new_terminals_1h": 0.0}  # fmt: skip


def ex(hours: float, card: str | None = "c1", fraud: bool = False, **signals: Any) -> Example:
    return Example({**OWN, **signals}, T0 + timedelta(hours=hours), fraud, card=card)


def test_payments_around_a_known_fraud_on_their_card_are_not_settled() -> None:
    rows = [
        ex(0, fraud=True),  # the known fraud
        ex(5),  # the same card five hours later: the thief's or the owner's, unknown yet
        ex(-20),  # the day before
        ex(30),  # a day and more after: settled
        ex(5, card="c2"),  # another card
        ex(5, card=None),  # no card known: nothing ties it to the fraud
    ]
    assert unsettled(rows, rows).tolist() == [False, True, True, False, False, False]


def test_a_review_holds_the_cards_later_payments_but_not_the_owners_routine() -> None:
    rows = [
        ex(0),  # escalated
        ex(1, new_terminal=True),  # a shop the customer never used: held
        ex(2),  # the owner's usual shop near home, an ordinary amount: not held
        ex(3, amount_gbp=90.0),  # the usual shop, three times the usual amount: held
        ex(4, home_distance_km=400.0),  # far from home: held
        # a known shop, but the card paid at a new one in the last hour: a thief's second
        # payment at the shop they just used reads as a known terminal: held
        ex(5, card_new_terminals_1h=1.0),
        ex(5.5, customer_history=2),  # a customer the stream hardly knows: held
        ex(7),  # after the six hours of the review
        ex(1, card="c2", new_terminal=True),  # another card
    ]
    escalated = np.array([True, False, False, False, False, False, False, False, False])
    held = under_review(rows, escalated, review_s=6 * 3600)
    assert held.tolist() == [False, True, False, True, True, True, True, False, False]
    # the review's window is the setting's: none at all with 0, even at the same instant
    assert not under_review(rows, escalated, review_s=0).any()
    same = [ex(0), ex(0, new_terminal=True)]
    assert not under_review(same, np.array([True, False]), review_s=0).any()
    assert under_review(same, np.array([True, False]), review_s=60).tolist() == [False, True]


SIGNAL = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(OWN)), SIGNAL | st.sampled_from(list(OWN.values()))))
def test_routine_reads_any_signals_and_needs_every_one_of_them(signals: dict[str, Any]) -> None:
    """A lake's row comes from outside: any value, any type, any missing; the payment is
    routine only with every figure there, numeric and inside its bounds."""
    got = routine(signals)
    assert isinstance(got, bool)
    if got:
        km, amount, mean = (signals[k] for k in ("home_distance_km", "amount_gbp",
                                                  "customer_mean_amount"))  # fmt: skip
        assert signals["new_terminal"] is False
        assert not any(isinstance(v, bool | str) or v is None for v in (km, amount, mean))
        assert 0 <= km < 50
        assert 0 < mean < float("inf")
        assert 0 < amount < 2 * mean
        assert signals["customer_history"] >= 5
        assert signals["card_new_terminals_1h"] < 0.5


def test_routine_says_yes_only_with_every_figure_in_bounds() -> None:
    assert routine(OWN)
    for key, odd in (("amount_gbp", -5.0), ("amount_gbp", 0.0), ("home_distance_km", -1.0),
                     ("customer_mean_amount", float("inf")), ("customer_history", 10**400),
                     ("home_distance_km", float("nan")), ("new_terminal", None),
                     ("customer_history", True), ("amount_gbp", "25")):  # fmt: skip
        assert not routine({**OWN, key: odd}), (key, odd)
