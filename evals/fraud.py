"""The fraud suite: a month of labelled simulated card payments, a risk model trained on
its first days, judged on other customers' later days.

1. A 30-day history (seed ``train_seed``) is replayed through the fraud agent's own
   screening (features, rules, labels applied as they become known); a model is trained
   on it as of day ``train_days``: trained on the days before the held-out ones, its bands
   set on the held-out days (``agents.fraud.training``), labels known by then only.
2. The model is promoted, and a different population (``test_seed``) is replayed through
   screening with it, the way a running agent decides; its days from ``train_days`` on
   are the test.

Figures (payments of the test days): ``recall`` (fraudulent payments held or escalated),
``false_flags`` (genuine payments held or escalated), ``precision``, ``pr_auc`` (of the
decisions' risk), per scenario recall, ``cards_by_third`` (compromised cards caught by
their third fraudulent payment: a card is caught when one of its fraudulent payments is
flagged), ``frauds_before_caught`` (mean, over caught cards), ``analyst_per_hour``
(escalations an analyst sees per simulated hour) and ``holds_per_hour`` (customers asked
to confirm). Nothing here calls a language model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import redis

from agents.fraud.history import Replayed, examples, replay
from agents.fraud.labels import LabelStore
from agents.fraud.model import RiskModel
from agents.fraud.model_store import publish_model
from agents.fraud.screening import Screener
from agents.fraud.training import average_precision, train
from evals.metrics import SuiteSummary
from ingestion.simulator.fraud import FraudSimulation
from vigil.settings import Settings

NAME = "risk-model"


@dataclass(frozen=True)
class FraudEvalConfig:
    shoppers: int = 500
    days: int = 30
    train_days: int = 20
    train_seed: int = 11
    test_seed: int = 12
    #: the label delay left before the held-out days end and before training
    gap_days: int = 4
    held_days: int = 4


def run_fraud_suite(client: redis.Redis, settings: Settings,
                    config: FraudEvalConfig = FraudEvalConfig()) -> SuiteSummary:  # fmt: skip
    """The suite on ``client`` under ``settings.redis_prefix`` (the caller deletes it)."""
    c = config
    base = settings.model_copy(update={"fraud_features": True, "fraud_model": False})
    history = FraudSimulation(seed=c.train_seed, shoppers=c.shoppers, days=c.days).run()
    train_prefix = f"{settings.redis_prefix}:train"
    rows = replay(history, Screener(client, base.model_copy(update={"redis_prefix": train_prefix})),
                  LabelStore(client, train_prefix))  # fmt: skip

    def day(d: int) -> Any:
        return history.start + timedelta(days=d)

    cut = c.train_days
    held_from = day(cut - c.gap_days - c.held_days)
    model, _hx, _hy = train(
        examples(rows, history.labels, day(cut)), train_until=held_from, held_from=held_from,
        held_until=day(cut - c.gap_days), version=f"eval-{c.train_seed}",
        review_s=base.fraud_card_review_s,
    )  # fmt: skip
    test_prefix = f"{settings.redis_prefix}:test"
    publish_model(client, test_prefix, model, promote=True)
    live = base.model_copy(update={"redis_prefix": test_prefix, "fraud_model": True,
                                   "fraud_model_check_s": 1e-3})  # fmt: skip
    test = FraudSimulation(seed=c.test_seed, shoppers=c.shoppers, days=c.days).run()
    replayed = replay(test, Screener(client, live), LabelStore(client, test_prefix))
    start = test.start + timedelta(days=cut)
    judged = [r for r in replayed if r.payment.tx.timestamp >= start]
    return summarize(judged, model, hours=(c.days - cut) * 24)


def summarize(judged: list[Replayed], model: RiskModel, hours: float) -> SuiteSummary:
    flagged = np.array([r.screened.outcome != "allow" for r in judged])
    fraud = np.array([r.payment.fraud for r in judged])
    risk = np.array([r.screened.risk for r in judged])
    genuine = ~fraud
    per: dict[str, list[bool]] = defaultdict(list)
    cases: dict[str, list[bool]] = defaultdict(list)
    for r, f in zip(judged, flagged, strict=True):
        if r.payment.scenario is not None:
            per[r.payment.scenario].append(bool(f))
            cases[r.payment.case or ""].append(bool(f))
    caught_at = [next((i for i, f in enumerate(flags) if f), None) for flags in cases.values()]
    caught = [i for i in caught_at if i is not None]
    escalated = sum(r.screened.outcome == "escalate" for r in judged)
    held = sum(r.screened.outcome == "hold" for r in judged)
    metrics = {
        "recall": _mean(flagged[fraud]),
        "false_flags": _mean(flagged[genuine]),
        "precision": _mean(fraud[flagged]),
        "pr_auc": average_precision(fraud.astype(np.int8), risk),
        "cards_by_third": _mean(np.array([i is not None and i < 3 for i in caught_at])),
        "frauds_before_caught": float(np.mean(caught)) if caught else math.nan,
        "analyst_per_hour": escalated / hours,
        "holds_per_hour": held / hours,
        "payments": float(len(judged)),
        "frauds": float(fraud.sum()),
        "compromised_cards": float(len(cases)),
        "scenario_min_recall": min((_mean(np.array(v)) for v in per.values()), default=math.nan),
    }
    categories = {s: {"recall": _mean(np.array(v)), "payments": float(len(v))}
                  for s, v in sorted(per.items())}  # fmt: skip
    confusion = {
        "fraud" if f else "genuine": {
            o: sum(1 for r in judged if r.payment.fraud == f and r.screened.outcome == o)
            for o in ("allow", "hold", "escalate")
        }
        for f in (True, False)
    }
    return SuiteSummary("fraud", NAME, len(judged), metrics, categories, confusion)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan
