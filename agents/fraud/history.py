"""A labelled history replayed through the running code: what the model learns from.

The payments go through the fraud agent's own ``Screener`` (its Redis state, its
features, its rules) in time order and in batches, as the agent would see them; each
label is applied through the same ``LabelStore`` as ``fraud.labels`` feeds, once it is
known (before the first payment screened after its ``known_at``). So the signals a model
is trained on are exactly the signals it will score, and a terminal's risk only counts
what was known at each payment's time.

A deployment's own history is the same thing recorded: the screening decisions the
archive kept in the lake, joined with the labels it kept (``lake_examples``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agents.fraud.labels import LabelStore
from agents.fraud.screening import Screened, Screener
from agents.fraud.training import Example
from ingestion.contracts import FraudLabel
from ingestion.profiles import RedisProfileStore
from ingestion.simulator.fraud import FraudHistory, Payment


@dataclass(frozen=True, slots=True)
class Replayed:
    payment: Payment
    screened: Screened


def replay(
    history: FraudHistory, screener: Screener, labels: LabelStore, batch: int = 500
) -> list[Replayed]:
    """Every payment of ``history`` screened, labels applied as they became known."""
    RedisProfileStore(screener.client, prefix=screener.prefix).apply(history.profiles)
    pending = list(history.labels)
    at = 0
    out: list[Replayed] = []
    payments = history.payments
    for i in range(0, len(payments), batch):
        chunk = payments[i : i + batch]
        first = chunk[0].tx.timestamp
        known = at
        while known < len(pending) and pending[known].known_at < first:
            known += 1
        labels.apply(pending[at:known])
        at = known
        screened = screener.screen([p.tx for p in chunk])
        out += [Replayed(p, s) for p, s in zip(chunk, screened, strict=True)]
    return out


def examples(
    rows: Sequence[Replayed],
    labels: Sequence[FraudLabel],
    known_by: datetime,
    escalate_at: float = 0.5,
) -> list[Example]:
    """Training examples: each payment's signals, fraud if a fraud label for it was known
    by ``known_by`` (the rest count as genuine, as they would on that day); ``ruled`` if the
    rules that stay floors flagged it (hard risk at/above ``escalate_at``)."""
    fraud = {x.transaction_id for x in labels if x.label == "fraud" and x.known_at <= known_by}
    return [
        Example(
            r.screened.signals,
            r.payment.tx.timestamp,
            r.payment.tx.transaction_id in fraud,
            r.screened.hard_risk >= escalate_at,
            r.payment.tx.card_id,
        )
        for r in rows
    ]


def lake_examples(
    screenings: Sequence[Mapping[str, Any]],
    labels: Sequence[Mapping[str, Any]],
    escalate_at: float = 0.5,
) -> list[Example]:
    """Training examples from a deployment's own history (the lake's ``screenings`` and
    ``labels`` rows): each payment's recorded signals, fraud if the last verdict on it is
    fraud (labels in the order they became known: a changed verdict wins), ``ruled`` if
    the rules that stay floors flagged it (its ``hard_risk`` signal)."""
    verdict: dict[str, bool] = {}
    for x in labels:
        verdict[x["transaction_id"]] = x["label"] == "fraud"
    out: list[Example] = []
    for row in screenings:
        signals = json.loads(row["signals"])
        if not isinstance(signals, dict):
            continue
        hard = signals.get("hard_risk")
        ruled = isinstance(hard, int | float) and hard >= escalate_at
        card = row.get("card")
        out.append(Example(signals, row["paid_at"], verdict.get(row["transaction_id"], False),
                           ruled, card if isinstance(card, str) else None))  # fmt: skip
    out.sort(key=lambda e: e.at)
    return out
