"""Labels on a real Redis: a terminal's risk counts confirmed frauds over its window, which
ends a delay before the payment's day; labels late, twice, changed or for an unknown
payment."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from agents.fraud.behaviour import BehaviourKeys
from agents.fraud.labels import LabelStore
from agents.fraud.screening import Screener
from agents.fraud.terminals import TERMINAL_SLOTS, terminal_days
from ingestion.contracts import FraudLabel
from tests.agents.test_behaviour import online
from tests.agents.test_screening import T0
from tests.conftest import base_settings

DAY = 86400


@pytest.fixture
def parts(redis_client: tuple[Any, str]) -> tuple[Screener, LabelStore]:
    client, prefix = redis_client
    p = prefix.rstrip(":")
    s = base_settings(redis_prefix=p, fraud_features=True, fraud_terminal_delay_days=1)
    return Screener(client, s), LabelStore(client, p)


def at(n: int, seconds: float, terminal: str | None = "term-1") -> Any:
    return online(n, seconds=seconds, terminal_id=terminal, card=f"card-{n}", user=f"cust-{n}")


def label(n: int, verdict: str = "fraud", source: str = "chargeback") -> FraudLabel:
    return FraudLabel(transaction_id=f"tx-{n}", label=verdict, source=source, known_at=T0)


def terminal(screener: Screener, n: int, seconds: float) -> tuple[Any, Any]:
    (d,) = screener.screen([at(n, seconds)])
    return d.signals["terminal_payments"], d.signals["terminal_frauds"]


def test_a_terminals_frauds_count_after_the_delay_and_leave_with_the_window(
    parts: tuple[Screener, LabelStore],
) -> None:
    screener, labels = parts
    screener.screen([at(1, 0), at(2, 60), at(3, 120)])  # day 0 (T0 is 09:15)
    assert labels.apply([label(1)]) == ["applied"]
    # the same day: the window ends a day before it, nothing in it yet
    assert terminal(screener, 4, 600) == (0, 0)
    # the next day: day 0's four payments, one confirmed fraud
    assert terminal(screener, 5, DAY) == (4, 1)
    # a label that comes late still lands on its payment's day
    assert labels.apply([label(2)]) == ["applied"]
    assert terminal(screener, 6, DAY + 60) == (4, 2)
    # 28 days after day 0 the window [day 1, day 28] has left it: day 1's two payments
    assert terminal(screener, 7, 29 * DAY) == (2, 0)


def test_labels_twice_changed_or_unknown(parts: tuple[Screener, LabelStore]) -> None:
    screener, labels = parts
    screener.screen([at(1, 0), at(2, 60)])
    assert labels.apply([label(1), label(1)]) == ["applied", "duplicate"]
    assert labels.apply([label(1, source="customer")]) == ["duplicate"]  # same verdict
    assert terminal(screener, 3, DAY) == (2, 1)
    assert labels.apply([label(1, "genuine", "investigation")]) == ["changed"]
    assert terminal(screener, 4, DAY + 1) == (2, 0)  # the fraud is taken away again
    assert labels.apply([label(2, "genuine", "customer")]) == ["applied"]
    assert terminal(screener, 5, DAY + 2) == (2, 0)  # a genuine label moves nothing
    assert labels.apply([label(99)]) == ["unknown"]
    assert labels.stats.outcomes == {"applied": 2, "duplicate": 2, "changed": 1, "unknown": 1}


def test_a_payment_without_a_terminal_can_still_be_labelled(
    parts: tuple[Screener, LabelStore],
) -> None:
    screener, labels = parts
    (d,) = screener.screen([at(1, 0, terminal=None)])
    assert d.signals["terminal_payments"] is None
    assert labels.apply([label(1)]) == ["applied"]


def test_a_flagged_card_is_held_for_review_and_a_confirmed_one_escalated(
    parts: tuple[Screener, LabelStore],
) -> None:
    from tests.agents.test_screening import LONDON, PARIS, tx

    screener, labels = parts
    screener.screen([tx(1, lat=LONDON[0], lon=LONDON[1])])
    (paris,) = screener.screen([tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1])])
    assert paris.outcome == "escalate"  # impossible travel
    (next_door,) = screener.screen([tx(3, seconds=640, lat=PARIS[0], lon=PARIS[1])])
    assert next_door.outcome == "hold"
    assert any(r.startswith("card under review: a payment on it was flagged 10 min") for r in
               next_door.reasons), next_door.reasons  # fmt: skip
    # the hold does not prolong the review: seven hours after the flag, the card is free
    (later,) = screener.screen([tx(4, seconds=7 * 3600, lat=PARIS[0], lon=PARIS[1])])
    assert later.outcome == "allow", later.reasons
    # a confirmed fraud on the card escalates its next payments, until it is taken back
    assert labels.apply([label(2)]) == ["applied"]
    (after,) = screener.screen([tx(5, seconds=8 * 3600, lat=PARIS[0], lon=PARIS[1])])
    assert after.outcome == "escalate"
    assert after.signals["card_confirmed_fraud"] is True
    assert any("card compromised" in r for r in after.reasons)
    assert labels.apply([label(2, "genuine", "investigation")]) == ["changed"]
    (cleared,) = screener.screen([tx(6, seconds=9 * 3600, lat=PARIS[0], lon=PARIS[1])])
    assert cleared.outcome == "allow", cleared.reasons


def test_a_flag_puts_the_cards_later_payments_in_the_same_batch_under_review(
    parts: tuple[Screener, LabelStore],
) -> None:
    """A thief's next payments minutes after the flag often come in the same poll: the
    review covers them too, not only the batches after it."""
    from tests.agents.test_screening import LONDON, PARIS, tx

    screener, _labels = parts
    screener.screen([tx(1, lat=LONDON[0], lon=LONDON[1])])
    paris, next_door, other = screener.screen(
        [tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1]),
         tx(3, seconds=640, lat=PARIS[0], lon=PARIS[1]),
         tx(4, seconds=700, lat=LONDON[0], lon=LONDON[1], card="card-other")]
    )  # fmt: skip
    assert paris.outcome == "escalate"  # impossible travel
    assert next_door.outcome == "hold"
    assert next_door.signals["card_flagged_s_ago"] == 600.0
    assert other.outcome == "allow", other.reasons  # another card: no review


def test_a_hold_asks_the_customer_and_starts_no_review(
    parts: tuple[Screener, LabelStore],
) -> None:
    """Only escalations (the rules' floors, the model's high band) put a card under
    review; a hold (the medium band) is a question to the customer."""
    from dataclasses import replace

    from agents.fraud.verdicts import under_review
    from tests.agents.test_screening import tx

    screener, _labels = parts
    first, second = screener.screen([tx(1), tx(2, seconds=60)])
    assert (first.outcome, second.outcome) == ("allow", "allow")
    held = replace(first, outcome="hold")
    keys = screener._behaviour
    assert keys is not None
    out = under_review([held, second], [b"", b""], screener.s, screener.client, keys)
    assert [x.outcome for x in out] == ["hold", "allow"]
    assert screener.client.get(keys.flag(first.tx.card_id)) is None
    escalated = replace(first, outcome="escalate")
    out = under_review([escalated, second], [b"", b""], screener.s, screener.client, keys)
    assert [x.outcome for x in out] == ["escalate", "hold"]
    assert screener.client.get(keys.flag(first.tx.card_id)) is not None


def test_the_owners_routine_goes_on_while_the_card_is_under_review(
    parts: tuple[Screener, LabelStore],
) -> None:
    """A review holds what a thief or a clone would do next (a new shop, far from home, a
    big amount), not the owner's usual shopping near home; that payment says why."""
    from dataclasses import replace

    from agents.fraud.verdicts import under_review
    from tests.agents.test_screening import tx

    screener, _labels = parts
    first, second = screener.screen([tx(1), tx(2, seconds=60)])
    keys = screener._behaviour
    assert keys is not None
    usual = {"new_terminal": False, "home_distance_km": 2.0, "amount_gbp": 20.0,
             "customer_mean_amount": 25.0, "customer_history": 30,
             "card_new_terminals_1h": 0.0}  # fmt: skip
    escalated = replace(first, outcome="escalate")
    own = replace(second, signals={**second.signals, **usual})
    out = under_review([escalated, own], [b"", b""], screener.s, screener.client, keys)
    assert out[1].outcome == "allow"
    assert out[1].signals["card_flagged_s_ago"] == 60.0
    assert any("not held: a shop this customer already uses" in r for r in out[1].reasons)
    for change in ({"new_terminal": True}, {"home_distance_km": 300.0}, {"amount_gbp": 80.0}):
        odd = replace(second, signals={**second.signals, **usual, **change})
        out = under_review([escalated, odd], [b"", b""], screener.s, screener.client, keys)
        assert out[1].outcome == "hold", change


def test_a_terminal_and_a_customer_kept_by_an_older_release_are_read_and_kept_smaller(
    parts: tuple[Screener, LabelStore], redis_client: tuple[Any, str]
) -> None:
    """Before this release a terminal's ring was stored whole (64 slots x 3) and a
    customer's categories and terminals inside its state; both are still read, and
    written back in the smaller layouts (``RING_FUNCTIONS``, the ``known`` key)."""
    screener, labels = parts
    client, prefix = redis_client
    keys = BehaviourKeys(prefix.rstrip(":"))
    day0 = int(T0.timestamp() // DAY)
    ring: list[Any] = [None] * (3 * TERMINAL_SLOTS)
    s = (day0 - 1) % TERMINAL_SLOTS  # the day before: 3 payments, one a confirmed fraud
    ring[s], ring[TERMINAL_SLOTS + s], ring[2 * TERMINAL_SLOTS + s] = day0 - 1, 3, 1
    client.set(keys.older_terminal("term-1"), b"".join(msgpack.packb(v) for v in ring))
    ms = int(T0.timestamp() * 1000) - 60_000
    old_customer = [ms, 0, 0, 0, 0, 0, 0, 0, 0, 5, 30.0, 4.0, "\x1fgrocery\x1f", "\x1fterm-1\x1f"]
    customer = f"{keys.prefix}:cust:cust-1"
    client.set(customer, b"".join(msgpack.packb(v) for v in old_customer))
    (d,) = screener.screen([at(1, 0)])
    assert (d.signals["terminal_payments"], d.signals["terminal_frauds"]) == (3, 1)
    assert d.signals["new_terminal"] is False, "the old state's terminals were read"
    assert d.signals["customer_history"] == 5
    raw = client.get(keys.terminal("term-1"))
    assert client.exists(keys.older_terminal("term-1")) == 0, "moved"
    assert raw is not None
    assert raw.startswith(msgpack.packb("r")), "written back in the smaller layout"
    assert terminal_days(raw) == {day0 - 1: (3, 1), day0: (1, 0)}
    stored = msgpack.Unpacker(raw=False)
    stored.feed(client.get(customer))
    values = list(stored)
    assert values[12:14] == [None, None], "the categories and terminals moved out"
    assert client.exists(f"{keys.prefix}:known:cust-1")
    # a label finds its terminal in the new layout
    assert labels.apply([label(1)]) == ["applied"]
    assert terminal_days(client.get(keys.terminal("term-1")))[day0] == (1, 1)
    (again,) = screener.screen([at(2, DAY)])  # the next day: both days in its window
    assert (again.signals["terminal_payments"], again.signals["terminal_frauds"]) == (4, 2)


def test_a_label_moves_a_terminal_an_older_release_kept(
    parts: tuple[Screener, LabelStore], redis_client: tuple[Any, str]
) -> None:
    """A label for a payment at a terminal still under an older release's key applies
    to it and moves it to the terminal's key, with its time to live."""
    _screener, labels = parts
    client, prefix = redis_client
    keys = BehaviourKeys(prefix.rstrip(":"))
    day0 = int(T0.timestamp() // DAY)
    ring: list[Any] = [None] * (3 * TERMINAL_SLOTS)
    s = day0 % TERMINAL_SLOTS
    ring[s], ring[TERMINAL_SLOTS + s] = day0, 2
    client.set(keys.older_terminal("term-old"), b"".join(msgpack.packb(v) for v in ring),
               px=86_400_000)  # fmt: skip
    record = b"".join(msgpack.packb(v) for v in ("term-old", day0, "", "card-77"))
    client.set(keys.record("tx-77"), record, px=86_400_000)
    assert labels.apply([label(77)]) == ["applied"]
    assert client.exists(keys.older_terminal("term-old")) == 0
    assert terminal_days(client.get(keys.terminal("term-old"))) == {day0: (2, 1)}
    assert 0 < client.pttl(keys.terminal("term-old")) <= 86_400_000


def test_a_payment_dated_years_ahead_does_not_push_a_terminals_days_out(
    parts: tuple[Screener, LabelStore],
) -> None:
    """Only days up to tomorrow (by the server's clock) are kept: one payment dated far
    ahead would have made every real day too old to keep."""
    screener, _labels = parts
    screener.screen([at(1, 0), at(2, 60), at(3, 120)])  # day 0
    ahead = 1000 * DAY
    (far,) = screener.screen([at(4, ahead)])
    assert far.signals["terminal_payments"] == 0  # its own window: nothing there
    assert terminal(screener, 5, DAY) == (3, 0), "day 0's payments still counted"
