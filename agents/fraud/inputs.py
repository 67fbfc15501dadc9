"""The risk model's input: its columns, computed from screening decisions' signals.

The model reads only what a decision carries in its ``signals``, so the history it
learns from (the lake's decisions) and what it scores at run time go through this one
function, ``matrix``. ``COLUMNS`` defines each column; a missing value is NaN (the trees
learn where it goes).

On the hot path a part of a batch is about 60 payments, and numpy's cost a call, not a
value, is what counts: a pass over the rows' dicts per signal, or the ufuncs of each
column on its own, cost more than the trees' scoring. So the signals are gathered into
one table in one pass over the rows (the behaviour features come as a table already:
``behaviour.columns``), and the columns that are a signal as it is, or its logarithm,
are computed together, a group at a time (``_plan``); the others one at a time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

Signals = Mapping[str, Any]


def _value(v: Any) -> float:
    if v is None or isinstance(v, str):
        return math.nan
    return float(v)


#: the signals the columns read as numbers, gathered in one pass over a batch's rows
NUMERIC = (
    "amount_gbp", "amount_ratio", "customer_mean_amount", "customer_amount_std",
    "card_payments_1h", "card_payments_1d", "card_payments_7d", "card_payments_30d",
    "card_amount_1h", "card_amount_1d", "card_new_terminals_1h", "card_idle_s",
    "customer_payments_1d", "customer_payments_30d", "customer_history", "new_terminal",
    "home_distance_km", "delivery_distance_km", "terminal_payments", "terminal_frauds",
    "speed_mph", "distance_km", "seconds", "card_testing_count",
)  # fmt: skip


#: the types numpy reads as _value does (None as NaN); any other goes value by value
_PLAIN = frozenset({float, int, bool, type(None)})


@lru_cache(maxsize=64)
def _index(names: tuple[str, ...]) -> dict[str, int]:
    return {name: j for j, name in enumerate(names)}


@dataclass(frozen=True)
class Table:
    """Signals at hand as columns: ``values[:, j]`` is signal ``names[j]`` of each row,
    as ``Raw`` reads it from the rows (NaN for missing; a flag 1.0 or 0.0)."""

    names: tuple[str, ...]
    values: np.ndarray  # rows x names, float64
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", _index(self.names))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[:, self.index[name]]


@lru_cache(maxsize=64)
def _missing(have: tuple[str, ...]) -> tuple[str, ...]:
    """NUMERIC's signals not among ``have`` (once per layout: cached)."""
    return tuple(n for n in NUMERIC if n not in have)


class Raw:
    """A batch's signals as one table (float64, NaN for missing), each read once."""

    def __init__(self, rows: Sequence[Signals], known: Table | None = None) -> None:
        """``known``: columns the caller already has, as this would read them from the
        rows (screening's behaviour features: ``behaviour.columns``); the rest of NUMERIC
        is gathered from the rows."""
        self.rows = rows
        names = _missing(() if known is None else known.names)
        values = [list(map(row.get, names)) for row in rows]
        if set(map(type, chain.from_iterable(values))) <= _PLAIN:  # numpy reads None as NaN
            table = np.array(values, dtype=np.float64)
        else:  # text, or a value of some other type: each read as _value reads it
            table = np.array([list(map(_value, v)) for v in values], dtype=np.float64)
        table = table.reshape(len(rows), len(names))
        if known is not None:
            names, table = known.names + names, np.hstack([known.values, table])
        self.table = Table(names, table)
        self._more: dict[str, np.ndarray] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return self.table.names

    def __call__(self, name: str) -> np.ndarray:
        j = self.table.index.get(name)
        if j is not None:
            return self.table.values[:, j]
        col = self._more.get(name)  # a signal outside NUMERIC: a pass of its own
        if col is None:
            col = np.fromiter((_value(r.get(name)) for r in self.rows), np.float64, len(self.rows))
            self._more[name] = col
        return col

    def flag(self, name: str) -> np.ndarray:
        """1.0 where the signal is truthy, else 0.0 (missing included; a known column of
        a flag holds just those)."""
        j = self.table.index.get(name)
        if j is not None:
            return self.table.values[:, j]
        return np.fromiter((1.0 if r.get(name) else 0.0 for r in self.rows), np.float64,
                           len(self.rows))  # fmt: skip

    def equals(self, name: str, value: str) -> np.ndarray:
        return np.fromiter((1.0 if r.get(name) == value else 0.0 for r in self.rows),
                           np.float64, len(self.rows))  # fmt: skip


Column = Callable[[Raw], np.ndarray]


class _Plain:
    """A column that is one signal as it is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, r: Raw) -> np.ndarray:
        return r(self.source)


class _Log(_Plain):
    """A column that is the logarithm of one signal (log1p, from zero up)."""

    def __call__(self, r: Raw) -> np.ndarray:
        return _log1p(r(self.source))


def _log1p(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.log1p(np.maximum(x, 0.0))
    return out


def _ratio(r: Raw) -> np.ndarray:
    mean = r("customer_mean_amount")
    return np.where(mean > 0, r("amount_gbp") / np.where(mean > 0, mean, 1.0), np.nan)


def _z(r: Raw) -> np.ndarray:
    std = r("customer_amount_std")
    z = (r("amount_gbp") - r("customer_mean_amount")) / np.where(std > 0, std, 1.0)
    return np.where(std > 0, z, np.nan)


def _burst(r: Raw) -> np.ndarray:
    hour = r("card_payments_1h")
    history = np.maximum(r("card_payments_30d") - hour, 0.0)
    out: np.ndarray = (hour + 1) / np.maximum(history / 30, 0.1)
    return out


def _terminal_rate(r: Raw) -> np.ndarray:
    frauds = r("terminal_frauds")
    return np.where(frauds >= 0, frauds / (r("terminal_payments") + 5), np.nan)


#: a category's code: a stable hash of its name (the model learns what each means; an
#: unseen category reads as one the trees never split on)
CATEGORY_CODES = 1021


_CODES: dict[str, float] = {}


def _code(category: str) -> float:
    code = _CODES.get(category)
    if code is None:
        code = float(zlib.crc32(category.encode("utf-8", "surrogatepass")) % CATEGORY_CODES)
        if len(_CODES) < 4096:  # the usual few dozen names; a flood of odd ones is not kept
            _CODES[category] = code
    return code


def _category(r: Raw) -> np.ndarray:
    return np.fromiter(
        (_code(c) if isinstance(c := row.get("merchant_category"), str) else math.nan
         for row in r.rows),
        np.float64, len(r.rows),
    )  # fmt: skip


def _is(name: str, value: str) -> Column:
    return lambda r: r.equals(name, value)


#: the model's columns: name -> how it is computed from a batch's signals
COLUMNS: dict[str, Column] = {
    "log_amount_gbp": _Log("amount_gbp"),
    "amount_vs_usual": _ratio,
    "amount_z": _z,
    "amount_vs_profile": _Plain("amount_ratio"),
    "card_payments_1h": _Plain("card_payments_1h"),
    "card_payments_1d": _Plain("card_payments_1d"),
    "card_payments_7d": _Plain("card_payments_7d"),
    "card_amount_1h": _Log("card_amount_1h"),
    "card_amount_1d": _Log("card_amount_1d"),
    "card_burst": _burst,
    "card_new_terminals_1h": _Plain("card_new_terminals_1h"),
    "card_idle_s": _Log("card_idle_s"),
    "customer_payments_1d": _Plain("customer_payments_1d"),
    "customer_payments_30d": _Plain("customer_payments_30d"),
    "customer_history": _Plain("customer_history"),
    "new_category": lambda r: r.flag("new_category"),
    "new_terminal": _Plain("new_terminal"),
    "home_distance_km": _Log("home_distance_km"),
    "delivery_distance_km": _Log("delivery_distance_km"),
    "merchant_category": _category,
    "card_not_present": _is("channel", "card_not_present"),
    "atm": _is("channel", "atm"),
    "terminal_payments": _Log("terminal_payments"),
    "terminal_frauds": _Plain("terminal_frauds"),
    "terminal_fraud_rate": _terminal_rate,
    "speed_mph": _Log("speed_mph"),
    "travel_km": _Log("distance_km"),
    "travel_s": _Log("seconds"),
    "card_testing_count": _Plain("card_testing_count"),
}
FEATURES = tuple(COLUMNS)
#: the columns the trees split as categories, not as numbers
CATEGORICAL = ("merchant_category",)
#: Columns along which risk may only rise (LightGBM's monotone constraints): further from
#: the customer's own amounts, faster, busier, newer, a terminal with more confirmed
#: fraud. What an analyst knows of fraud holds everywhere: the trees may not learn the
#: opposite from a quirk of the history (where the history had no fraud at some high
#: value, a higher value read as safer). Columns whose direction depends on context (the
#: amount alone: card testing is small; the time since the card's previous use) are free.
RISING = frozenset({
    "amount_vs_usual", "amount_z", "amount_vs_profile", "card_payments_1h", "card_amount_1h",
    "card_burst", "card_new_terminals_1h", "new_category", "new_terminal", "home_distance_km",
    "delivery_distance_km", "terminal_frauds", "terminal_fraud_rate", "speed_mph",
    "card_testing_count",
})  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """How ``matrix`` fills a model's columns from a table's layout: the plain and the
    logarithm columns a group at a time (output positions, table positions), the rest
    one at a time."""

    plain: tuple[list[int], list[int]]
    log: tuple[list[int], list[int]]
    rest: tuple[tuple[int, Column], ...]


@lru_cache(maxsize=64)
def _plan(features: tuple[str, ...], names: tuple[str, ...]) -> _Plan:
    at = _index(names)
    plain: tuple[list[int], list[int]] = ([], [])
    log: tuple[list[int], list[int]] = ([], [])
    rest: list[tuple[int, Column]] = []
    for j, f in enumerate(features):
        column = COLUMNS[f]
        source = at.get(column.source) if isinstance(column, _Plain) else None
        if source is None:
            rest.append((j, column))
            continue
        group = log if isinstance(column, _Log) else plain
        group[0].append(j)
        group[1].append(source)
    return _Plan(plain, log, tuple(rest))


def matrix(rows: Sequence[Signals], features: Sequence[str] = FEATURES,
           known: Table | None = None) -> np.ndarray:  # fmt: skip
    """The model's input for decisions' signals (rows x features, float64, NaN missing;
    ``known``: columns already at hand, ``Raw``)."""
    raw = Raw(rows, known)
    plan = _plan(tuple(features), raw.names)
    table = raw.table.values
    out = np.empty((len(rows), len(features)), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for (to, source), log in ((plan.plain, False), (plan.log, True)):
            if to:
                out[:, to] = _log1p(table[:, source]) if log else table[:, source]
        for j, column in plan.rest:
            out[:, j] = column(raw)
    return out
