"""Behaviour features in the fast path: what each card and each customer usually does,
learned from the stream itself and kept in Redis, read and updated in screening's one
round trip per batch.

Per card and per customer: how many payments and how much money over 1 h, 1 d, 7 d and
30 d. Each window is an exponentially decayed count and sum (time constant = the window):
one update per payment whatever its rate, nothing to expire one by one, and a payment
arriving late is added with the weight it would have had (the order of arrival does not
change the result). Per card, the time since its previous use. Per customer, a running
mean and spread of the amount (exponentially weighted over about the last
``HORIZON`` payments), whether the merchant category is new for them (among the first
2 KiB of their categories) and whether the terminal is (among their newest 2-4 KiB of
terminals: a stolen card is used where its owner does not shop), and per card how many
of its payments in about the last hour were at terminals new to the customer.

Per terminal (the contract's ``terminal_id``: a card reader, an ATM, a web shop): its
payments and the frauds among them that labels have confirmed, over
``terminals.TERMINAL_WINDOW_DAYS`` days that end ``fraud_terminal_delay_days`` before the
payment's day (chargebacks come days later: the last days' counts are incomplete and
would read as safe). Kept by day for 64 days (``terminals``); a label that arrives
late lands in its payment's day (``agents.fraud.labels``). A customer's categories and
terminals are a key of their own, written when they change or are about to expire (not
with every payment: they are most of a customer's bytes).
Each payment's terminal, day and card are kept under its transaction id for
``fraud_labels_ttl_s``: what a label needs to find it.

Every value describes the history *before* the payment (it is then added). A re-delivered
payment gets the very answer it got the first time: the answer is kept under the
transaction id for ``fraud_features_dedupe_s`` and the state is not updated again.
Amounts are in GBP (converted with ``fraud_fx_per_gbp``); a payment whose currency has no
rate is counted but adds no amount, and the customer's mean is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.fraud.behaviour_script import BEHAVE_FUNCTION as BEHAVE_FUNCTION
from agents.fraud.inputs import Table

#: the windows, and their time constants in milliseconds
WINDOWS = ("1h", "1d", "7d", "30d")
TAUS_MS = (3_600_000, 86_400_000, 604_800_000, 2_592_000_000)
#: the customer's mean and spread follow about this many recent payments
HORIZON = 50
#: the key space: ``<prefix>:bhv:...``
NAMESPACE = "bhv"


#: the answer's numbers, in order, as a decision's signals (the card's and the customer's
#: payments and amounts per window, then the rest)
_WINDOWED = tuple(f"{kind}_{w}" for w in WINDOWS for kind in ("payments", "amount"))
SIGNALS = (
    *(f"card_{name}" for name in _WINDOWED), "card_idle_s",
    *(f"customer_{name}" for name in _WINDOWED),
    "customer_history", "customer_mean_amount", "customer_amount_std", "new_category",
    "new_terminal", "card_new_terminals_1h", "terminal_payments", "terminal_frauds",
)  # fmt: skip


#: where the rules read an answer's numbers (positions in ``SIGNALS``)
CARD_1H = SIGNALS.index("card_payments_1h")
CARD_30D = SIGNALS.index("card_payments_30d")
USER_PAYMENTS = SIGNALS.index("customer_history")
USER_MEAN = SIGNALS.index("customer_mean_amount")
USER_STD = SIGNALS.index("customer_amount_std")
#: ... and where ``into`` and ``columns`` read the values that say "none" with a negative
#: number, and the flags
CARD_IDLE = SIGNALS.index("card_idle_s")
NEW_CATEGORY = SIGNALS.index("new_category")
NEW_TERMINAL = SIGNALS.index("new_terminal")
CARD_NEW_TERMINALS = SIGNALS.index("card_new_terminals_1h")
TERMINAL_PAYMENTS = SIGNALS.index("terminal_payments")
TERMINAL_FRAUDS = SIGNALS.index("terminal_frauds")


class Features(tuple[float, ...]):
    """A payment's behaviour features: the history before it (amounts in GBP, counts and
    sums rounded to hundredths: they are estimates), the script's ``SIGNALS`` numbers."""

    __slots__ = ()

    def signals(self) -> dict[str, float | int | bool | None]:
        out: dict[str, float | int | bool | None] = {}
        self.into(out)
        return out

    def into(self, out: dict[str, Any]) -> None:
        """Write the signals into a decision's ``out`` (``into``)."""
        into(self, out)

    def card_count(self, window: int) -> float:
        """The card's payments in window ``window`` (0: 1 h ... 3: 30 d)."""
        return float(self[2 * window])

    @property
    def card_idle_s(self) -> float | None:
        """Since the card's previous use (None: its first, or the payment came late)."""
        return self.signals()["card_idle_s"]

    @property
    def user_payments(self) -> int:
        """The customer's priced payments so far (the mean and spread follow the last
        ``HORIZON`` of them)."""
        return int(self[USER_PAYMENTS])

    @property
    def user_mean(self) -> float:
        return float(self[USER_MEAN])

    @property
    def user_std(self) -> float:
        return float(self[USER_STD])

    @property
    def new_category(self) -> bool:
        """The merchant category is new for a customer with history."""
        return bool(self.signals()["new_category"])

    @property
    def terminal_payments(self) -> int | None:
        """The terminal's payments over its window (None: the payment named no terminal)."""
        return self.signals()["terminal_payments"]  # type: ignore[return-value]

    @property
    def terminal_frauds(self) -> int | None:
        """Of those, the ones labels have confirmed as fraud so far."""
        return self.signals()["terminal_frauds"]  # type: ignore[return-value]

    @property
    def new_terminal(self) -> bool | None:
        """The terminal is not among the customer's recent ones (None: no terminal named;
        False for a customer's very first payment: nothing to compare with)."""
        return self.signals()["new_terminal"]  # type: ignore[return-value]

    def card_history(self) -> float:
        """The card's payments in 30 days, before the last hour's."""
        return max(self.card_count(3) - self.card_count(0), 0.0)

    def card_daily_rate(self) -> float:
        """The card's usual payments a day: its 30 days before the last hour."""
        return self.card_history() / 30


def into(v: Sequence[float], out: dict[str, Any]) -> None:
    """Write a payment's features (``SIGNALS`` numbers: a ``Features``, or a row of an
    ``Answers``, which screening reads as a plain list: no object of its own a payment,
    and a list reads faster than a tuple's subclass) into a decision's ``out`` (no dict
    of their own in between: one per payment, the hot path)."""
    out.update(zip(SIGNALS, v, strict=True))
    # the values that say "none" with a negative number, and the flags: said here
    # only (one decision per payment); ``Features``' properties read them from here
    n = int(v[USER_PAYMENTS])
    seen = n > 0  # the customer has history to compare with
    idle, new_terminal, new_1h = v[CARD_IDLE], v[NEW_TERMINAL], v[CARD_NEW_TERMINALS]
    payments, frauds = v[TERMINAL_PAYMENTS], v[TERMINAL_FRAUDS]
    out["card_idle_s"] = None if idle < 0 else idle / 1000
    out["customer_history"] = n
    out["new_category"] = bool(v[NEW_CATEGORY]) and seen
    out["new_terminal"] = None if new_terminal < 0 else bool(new_terminal) and seen
    out["card_new_terminals_1h"] = None if new_1h < 0 else new_1h
    out["terminal_payments"] = None if payments < 0 else int(payments)
    out["terminal_frauds"] = None if frauds < 0 else int(frauds)


def columns(numbers: np.ndarray) -> Table:
    """Answers' signals (rows of ``SIGNALS`` numbers) as the risk model reads them
    (float64 columns: NaN where ``into`` says None, 1.0 and 0.0 for its flags),
    computed at once from the numbers rather than read back from each decision's signals:
    the same values (a property test holds them so), without a pass over each decision's
    dict for them (the model's input is on the hot path)."""
    v = numbers
    out = np.array(v, dtype=np.float64)  # a copy, its columns in SIGNALS' order
    n = np.trunc(v[:, USER_PAYMENTS])
    seen = n > 0
    idle, new_terminal, new_1h = v[:, CARD_IDLE], v[:, NEW_TERMINAL], v[:, CARD_NEW_TERMINALS]
    payments, frauds = v[:, TERMINAL_PAYMENTS], v[:, TERMINAL_FRAUDS]
    nan = np.nan
    out[:, CARD_IDLE] = np.where(idle < 0, nan, idle / 1000)
    out[:, USER_PAYMENTS] = n
    out[:, NEW_CATEGORY] = (v[:, NEW_CATEGORY] != 0) & seen
    out[:, NEW_TERMINAL] = np.where(new_terminal < 0, nan, (new_terminal != 0) & seen)
    out[:, CARD_NEW_TERMINALS] = np.where(new_1h < 0, nan, new_1h)
    out[:, TERMINAL_PAYMENTS] = np.where(payments < 0, nan, np.trunc(payments))
    out[:, TERMINAL_FRAUDS] = np.where(frauds < 0, nan, np.trunc(frauds))
    return Table(SIGNALS, out)


class Answers:
    """A part's behaviour features: the script's answers, each ``SIGNALS`` numbers as
    little-endian doubles, read as one array (each payment's a row of it)."""

    def __init__(self, numbers: np.ndarray) -> None:
        self.numbers = numbers
        #: each payment's numbers, as a list (``into``; screening reads these)
        self.rows: list[list[float]] = numbers.tolist()

    @property
    def features(self) -> list[Features]:
        """Each payment's ``Features``."""
        return list(map(Features, self.rows))

    @classmethod
    def parse(cls, answers: Sequence[bytes]) -> Answers:
        width = 8 * len(SIGNALS)
        odd = {len(a) for a in answers} - {width}
        if odd:
            raise ValueError(f"behaviour answer of {min(odd)} bytes, not {width} "
                             f"({len(SIGNALS)} numbers)")  # fmt: skip
        numbers = np.frombuffer(b"".join(answers), dtype="<f8")
        return cls(numbers.astype(np.float64).reshape(len(answers), len(SIGNALS)))

    @staticmethod
    def columns(parts: Sequence[Answers]) -> Table:
        """The model's columns of consecutive parts' features."""
        if len(parts) == 1:
            return columns(parts[0].numbers)
        return columns(np.concatenate([p.numbers for p in parts]))


class BehaviourKeys:
    """The Redis keys of the features, under the service's prefix. The batch script
    makes a payment's own from its ids (``behave_keys``: ``card:<card>``,
    ``cust:<customer>``, ``seen:<transaction>``, ``tdays:<terminal>``, ``tx:<transaction>``,
    ``known:<customer>``, ``flag:<card>``); the ids are contract ``Id`` values, their
    charset and length checked before they reach a key."""

    def __init__(self, service_prefix: str) -> None:
        self.prefix = f"{service_prefix}:{NAMESPACE}"

    def of(self, card_id: str, user_id: str, transaction_id: str,
           terminal_id: str | None) -> list[str]:  # fmt: skip
        """The card's, the customer's, the payment's answer, the terminal's (the answer's
        again when there is none), the payment's record and the customer's categories and
        terminals: what the script makes."""
        p = self.prefix
        seen = f"{p}:seen:{transaction_id}"
        term = seen if terminal_id is None else self.terminal(terminal_id)
        return [f"{p}:card:{card_id}", f"{p}:cust:{user_id}", seen, term,
                self.record(transaction_id), f"{p}:known:{user_id}"]  # fmt: skip

    def flag(self, card_id: str) -> str:
        """When the card last had a payment flagged (held or escalated) by the rules or the
        model: its later payments are held while that is recent."""
        return f"{self.prefix}:flag:{card_id}"

    def record(self, transaction_id: str) -> str:
        """Where a screened payment's terminal, day and label are kept."""
        return f"{self.prefix}:tx:{transaction_id}"

    def terminal(self, terminal_id: str) -> str:
        """A terminal's days (``terminals``); ``term:<terminal>`` under older releases
        (moved here when the terminal is next used, or labelled)."""
        return f"{self.prefix}:tdays:{terminal_id}"

    def older_terminal(self, terminal_id: str) -> str:
        """Where releases before ``tdays`` kept a terminal's ring."""
        return f"{self.prefix}:term:{terminal_id}"
