"""Training the risk model on the labelled history, validated on later days.

The history is decisions' signals with when each payment happened and what was known of
it by the time of training (a fraud label known by then; otherwise genuine, as a
chargeback not in yet looks). Validation is a time split: train on the payments before
``train_until``, hold out those from ``held_from`` to ``held_until``; the caller leaves a
gap between them, and between the held-out days and the time of training, as long as the
labels' usual delay (the newest payments' frauds are not known yet).

The bands come from the validation days: ``high`` where ``high_budget`` of genuine
payments would reach the fraud graph, ``medium`` where ``flag_budget`` of them would be
held or escalated in all, counting those the rules that stay floors flag anyway and
those a card's review would hold after an escalation (they take their share of the budget
first). Only settled payments count as genuine there: an unlabelled payment within
``UNSETTLED`` of a known fraud on its card may be the thief's (its label not in yet),
and would otherwise push the bands up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import lightgbm as lgb
import numpy as np

from agents.fraud.inputs import CATEGORICAL, FEATURES, RISING, Signals, matrix
from agents.fraud.model import RiskModel

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
    # risk never falls as these rise (model.RISING); "intermediate" keeps more of the
    # trees' fit than "basic" under the constraints (held-out PR-AUC 0.907 against 0.890
    # without them, seeds 11/12)
    "monotone_constraints": [1 if f in RISING else 0 for f in FEATURES],
    "monotone_constraints_method": "intermediate",
}
ROUNDS = 120
#: a payment this close to a known fraud on its card is not counted as genuine when the
#: bands are set (``unsettled``)
UNSETTLED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Example:
    signals: Signals
    at: datetime
    fraud: bool
    #: the rules that stay floors flagged it (held or escalated whatever the model says)
    ruled: bool = False
    #: the payment's card (a pseudonym will do): what ties it to the card's known frauds
    card: str | None = None


class TrainingError(ValueError):
    """The history cannot train a model (too few payments or frauds on either side)."""


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """The area under the precision-recall curve, as average precision (NaN: no fraud)."""
    positives = int(y.sum())
    if positives == 0:
        return math.nan
    order = np.argsort(-score, kind="stable")
    hits = y[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / positives)


def evaluate(model: RiskModel, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The model's figures on rows ``x`` (all of ``FEATURES``) labelled ``y``."""
    cols = [FEATURES.index(f) for f in model.features]
    score = np.asarray(model.booster.predict(x[:, cols]), dtype=np.float64)
    genuine = y == 0
    flagged = score >= model.bands.medium
    return {
        "pr_auc": average_precision(y, score),
        "recall": float(flagged[~genuine].mean()) if (~genuine).any() else math.nan,
        "false_flags": float(flagged[genuine].mean()) if genuine.any() else math.nan,
        "payments": float(len(y)),
        "frauds": float(y.sum()),
    }


def train(
    examples: Sequence[Example],
    *,
    train_until: datetime,
    held_from: datetime,
    held_until: datetime,
    version: str,
    flag_budget: float = 0.01,
    high_budget: float = 0.002,
    review_s: float = 6 * 3600,
    seed: int = 7,
) -> tuple[RiskModel, np.ndarray, np.ndarray]:
    """A model trained on the payments before ``train_until``, its bands and figures from
    the held-out ones; also returns those held-out rows (every feature) and labels, on
    which a later candidate is compared with it."""
    if not train_until <= held_from < held_until:
        raise TrainingError("the held-out days must come after the training days")
    train_rows = [e for e in examples if e.at < train_until]
    held = [e for e in examples if held_from <= e.at < held_until]
    for name, part in (("training", train_rows), ("held-out", held)):
        frauds = sum(e.fraud for e in part)
        if frauds < 5 or len(part) - frauds < 50:
            raise TrainingError(
                f"the {name} days have {len(part)} payments and {frauds} "
                "known frauds: too few to train and judge a model"
            )
    x = matrix([e.signals for e in train_rows])
    y = np.array([e.fraud for e in train_rows], dtype=np.int8)
    hx = matrix([e.signals for e in held])
    hy = np.array([e.fraud for e in held], dtype=np.int8)
    params = {**PARAMS, "seed": seed}
    data = lgb.Dataset(x, y, feature_name=list(FEATURES), categorical_feature=list(CATEGORICAL))
    booster = lgb.train(params, data, ROUNDS)
    # the budgets count what the rules flag anyway, and the payments held because their
    # card is under review (after an escalation): the model's medium band gets the rest;
    # only genuine payments that are settled count (not around a card's known fraud)
    ruled = np.array([e.ruled for e in held], dtype=bool)
    settled = (hy == 0) & ~unsettled(examples, held)
    n_genuine = int(settled.sum())
    scores = np.asarray(booster.predict(hx), dtype=np.float64)
    high = _cut(scores[settled & ~ruled], high_budget * n_genuine)
    for _ in range(4):  # a higher ``high`` escalates less, so reviews hold less: again
        reviewed = under_review(held, ruled | (scores >= high), review_s) & ~ruled
        taken = int((settled & ruled).sum()) + int((settled & reviewed).sum())
        medium = _cut(scores[settled & ~ruled & ~reviewed], flag_budget * n_genuine - taken)
        if medium <= high:
            break
        high = medium
    meta: dict[str, Any] = {
        "version": version,
        "features": list(FEATURES),
        "bands": {"medium": medium, "high": high},
        "params": params,
        "rounds": ROUNDS,
        "trained_on": {
            "payments": len(train_rows),
            "frauds": int(y.sum()),
            "until": train_until.isoformat(),
        },
        "held_out": {"from": held_from.isoformat(), "until": held_until.isoformat()},
    }
    model = RiskModel(booster, meta)
    meta["metrics"] = evaluate(model, hx, hy)
    return model, hx, hy


def unsettled(examples: Sequence[Example], rows: Sequence[Example]) -> np.ndarray:
    """Which of ``rows`` are not known to be fraud but lie within ``UNSETTLED`` of a
    known fraud on the same card: a compromised card's other payments then are of unknown
    truth (a customer reports the frauds they notice; a chargeback comes for one payment).
    Counted as genuine, those the thief made would take the false-flag budget of the
    bands and set them too high."""
    frauds: dict[str, list[datetime]] = {}
    for e in examples:
        if e.fraud and e.card is not None:
            frauds.setdefault(e.card, []).append(e.at)
    return np.array(
        [not e.fraud and e.card is not None
         and any(abs(e.at - t) <= UNSETTLED for t in frauds.get(e.card, ()))
         for e in rows],
        dtype=bool,
    )  # fmt: skip


#: a payment on a card under review is the owner's routine (not held) at a terminal the
#: customer already used, this close to home, under this many times their usual amount
ROUTINE_KM = 50.0
ROUTINE_AMOUNT = 2.0
#: ... of a customer with at least this many payments seen
ROUTINE_HISTORY = 5


def routine(s: Signals) -> bool:
    """The payment looks like the card owner's routine: a terminal the customer already
    used, no new shop on the card in the last hour, near their home, an ordinary amount
    for them (a thief shops where the owner does not, or far away, or big)."""
    km, amount, mean = (_real(s.get(k)) for k in ("home_distance_km", "amount_gbp",
                                                   "customer_mean_amount"))  # fmt: skip
    history, shops = _real(s.get("customer_history")), _real(s.get("card_new_terminals_1h"))
    return (
        s.get("new_terminal") is False
        # a customer the stream knows, and no new shop on the card in the last hour: a
        # thief's second payment at a shop they just used reads as a known terminal
        and history is not None and history >= ROUTINE_HISTORY
        and shops is not None and shops < 0.5
        and km is not None and 0 <= km < ROUTINE_KM
        and amount is not None and mean is not None and mean > 0
        and 0 < amount < ROUTINE_AMOUNT * mean
    )  # fmt: skip


def _real(v: Any) -> float | None:
    """A finite number (a flag is not one); None for anything else."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except OverflowError:  # an integer beyond any float (a lake row may hold one)
        return None
    return x if math.isfinite(x) else None


def under_review(rows: Sequence[Example], escalated: np.ndarray, review_s: float) -> np.ndarray:
    """Which of ``rows`` come within ``review_s`` after an escalated payment on their card
    and are not the owner's ``routine`` (screening holds them: ``verdicts.under_review``);
    an escalated one itself is not."""
    out = np.zeros(len(rows), dtype=bool)
    last: dict[str, datetime] = {}
    for i in sorted(range(len(rows)), key=lambda i: rows[i].at):
        e = rows[i]
        if e.card is None:
            continue
        if escalated[i]:
            last[e.card] = e.at
        elif review_s > 0 and e.card in last and (e.at - last[e.card]).total_seconds() <= review_s:
            out[i] = not routine(e.signals)
    return out


def _cut(scores: np.ndarray, allowed: float) -> float:
    """The score at/above which at most ``allowed`` of ``scores`` fall (1.0 when none may)."""
    k = int(allowed)
    if k <= 0 or len(scores) == 0:
        return 1.0
    if k >= len(scores):
        return 0.0
    return float(np.sort(scores)[::-1][k - 1] + 1e-12)
