"""The learned risk model: gradient-boosted trees (LightGBM) over screening's signals.

The model reads only what a screening decision carries in its ``signals`` (the behaviour
features, the velocity and card-testing checks, the terminal's risk), so the history it
learns from is the decisions already published, joined with the labels that came later,
and what it scores at run time is computed by the very same code (``inputs``).

A decision's explanation is its top contributing signals (the trees' own per-feature
contributions along the payment's path through each tree), each said in words from the
signal's value: deterministic, the same payment always gets the same words.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from agents.fraud.attribution import leaf_paths
from agents.fraud.inputs import COLUMNS, Signals, Table, _value, matrix
from agents.fraud.trees import compiled


def _num(s: Signals, name: str) -> float:
    return _value(s.get(name))


def _money(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:,.2f}"


def _say(feature: str, s: Signals) -> str | None:
    """One signal in words, from its value (None: nothing worth saying)."""

    def n(name: str) -> float:
        return _num(s, name)

    match feature:
        case "log_amount_gbp" | "amount_vs_usual" | "amount_z" | "amount_vs_profile":
            mean = n("customer_mean_amount")
            if mean > 0:
                return (
                    f"amount {n('amount_gbp') / mean:.1f}x this customer's usual {_money(mean)} GBP"
                )
            return f"amount {_money(n('amount_gbp'))} GBP"
        case "card_payments_1h" | "card_burst" | "card_amount_1h":
            history = max(n("card_payments_30d") - n("card_payments_1h"), 0.0)
            return (
                f"{n('card_payments_1h') + 1:.0f} payments on this card in about the last "
                f"hour, usual {history / 30:.1f} a day"
            )
        case "card_payments_1d" | "card_amount_1d" | "card_payments_7d":
            return (
                f"{n('card_payments_1d') + 1:.0f} payments on this card in about a day "
                f"({_money(n('card_amount_1d'))} GBP before this one)"
            )
        case "card_idle_s":
            idle = n("card_idle_s")
            return None if math.isnan(idle) else f"card unused for {idle / 86400:.1f} days before"
        case "new_category":
            return "a merchant category new for this customer" if s.get("new_category") else None
        case "card_new_terminals_1h":
            c = n("card_new_terminals_1h")
            return (
                None
                if math.isnan(c) or c < 0.5
                else (f"{c + 1:.0f} payments on this card at new shops in about an hour")
            )
        case "new_terminal":
            return (
                "a shop or terminal this customer has not used" if s.get("new_terminal") else None
            )
        case "travel_km" | "travel_s":
            km, sec = n("distance_km"), n("seconds")
            if math.isnan(km) or math.isnan(sec):
                return None
            return f"{km:,.0f} km from the card's previous use {sec / 3600:.1f} h before"
        case "home_distance_km":
            km = n("home_distance_km")
            return None if math.isnan(km) else f"{km:,.0f} km from the customer's home"
        case "delivery_distance_km":
            km = n("delivery_distance_km")
            return None if math.isnan(km) else f"delivered {km:,.0f} km from the customer's home"
        case "card_not_present" | "atm":
            return {"card_not_present": "card not present (online)", "atm": "cash withdrawal"}.get(
                str(s.get("channel"))
            )
        case "terminal_payments" | "terminal_frauds" | "terminal_fraud_rate":
            if n("terminal_frauds") >= 0:
                return (
                    f"terminal had {n('terminal_frauds'):.0f} confirmed frauds in "
                    f"{n('terminal_payments'):.0f} payments over 28 days"
                )
            return None
        case "customer_payments_1d" | "customer_payments_30d" | "customer_history":
            return (f"the customer made {n('customer_payments_1d'):.0f} payments in about a day, "
                    f"{n('customer_payments_30d') / 30:.1f} a day over 30 days")  # fmt: skip
        case "speed_mph":
            mph = n("speed_mph")
            return None if math.isnan(mph) else f"{mph:,.0f} mph from the card's previous use"
        case "card_testing_count":
            c = n("card_testing_count")
            return None if math.isnan(c) else f"{c:.0f} small online payments in minutes"
        case _:
            return f"{feature} {s.get(feature)}"


@dataclass(frozen=True)
class Bands:
    """Risk bands on the model's score: at/above ``high`` the fraud graph, at/above
    ``medium`` hold and ask the customer, below allow."""

    medium: float
    high: float

    def of(self, score: float) -> str:
        return "high" if score >= self.high else "medium" if score >= self.medium else "low"


class RiskModel:
    """A trained booster with its feature list, bands and metrics (``meta``)."""

    def __init__(self, booster: lgb.Booster, meta: dict[str, Any]) -> None:
        self.booster = booster
        self.meta = meta
        self.version: str = meta["version"]
        self.features: tuple[str, ...] = tuple(meta["features"])
        unknown = set(self.features) - set(COLUMNS)
        if unknown:
            raise ValueError(f"model {self.version} needs features this Vigil lacks: {unknown}")
        self.bands = Bands(float(meta["bands"]["medium"]), float(meta["bands"]["high"]))
        #: each leaf's contributions, each tree's first leaf, the trees' root values
        #: (``attribution.leaf_paths``): once per model (40 ms for 120 trees), when it loads
        self.paths = leaf_paths(booster.dump_model(), len(self.features))
        #: the trees walked by compiled code, as LightGBM would (``trees``; None: LightGBM)
        self.trees = compiled(booster, len(self.features))

    @classmethod
    def from_text(cls, model: str, meta: str | dict[str, Any]) -> RiskModel:
        info = json.loads(meta) if isinstance(meta, str) else meta
        return cls(lgb.Booster(model_str=model), info)

    def text(self) -> str:
        return str(self.booster.model_to_string())

    def inputs(self, rows: Sequence[Signals], known: Table | None = None) -> np.ndarray:
        """The model's input for ``rows`` (its own features, in its order)."""
        return matrix(rows, self.features, known)

    def score(self, rows: Sequence[Signals], x: np.ndarray | None = None) -> np.ndarray:
        """The fraud probability of each decision (one vectorised call; ``x``: the rows'
        ``inputs`` when the caller has them)."""
        if not rows:
            return np.empty(0)
        x = self.inputs(rows) if x is None else x
        if self.trees is not None:
            return self.trees.predict(x)
        return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)

    def contributions(self, rows: Sequence[Signals], x: np.ndarray | None = None) -> np.ndarray:
        """Each row's contribution of each feature to its raw score (rows x features):
        the sum, over the trees, of the leaf the row reaches (``paths``). With the trees'
        root values, a row's contributions add up to its raw score."""
        x = self.inputs(rows) if x is None else x
        leaves = (self.booster.predict(x, pred_leaf=True, num_threads=1) if self.trees is None
                  else self.trees.leaves(x))  # fmt: skip
        paths, offsets, _roots = self.paths
        at = offsets + np.asarray(leaves, dtype=np.int64).reshape(len(x), len(offsets))
        out = np.empty((len(x), len(self.features)))
        for i in range(0, len(x), 32):  # rows x trees x features, a few rows at a time
            out[i : i + 32] = paths[at[i : i + 32]].sum(axis=1)
        return out

    def explain(self, rows: Sequence[Signals], top: int = 3,
                x: np.ndarray | None = None) -> list[list[str]]:  # fmt: skip
        """Each row's ``top`` signals that pushed its score up most, in words (signals
        that say the same thing are said once)."""
        if not rows:
            return []
        contrib = self.contributions(rows, x)
        out: list[list[str]] = []
        for s, c in zip(rows, contrib, strict=True):
            words: list[str] = []
            for j in np.argsort(-c):
                if c[j] <= 0 or len(words) >= top:
                    break
                text = _say(self.features[j], s)
                if text and text not in words:
                    words.append(text)
            out.append(words)
        return out
