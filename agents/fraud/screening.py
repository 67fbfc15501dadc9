"""Screening: every transaction, in batches, without a model.

One Redis pipeline per batch carries the velocity check of every located transaction,
the card-testing window of every small online payment and the profile fields of every
customer in the batch. The rules are plain and their thresholds are settings; only what
they flag goes on to the fraud graph.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import redis

from ingestion.contracts import FraudDecision, Transaction
from tools.card_locations import CardLocationStore, parse_answer
from tools.velocity import Sighting, assess
from vigil.settings import Settings

Signal = float | int | str | bool | None

RISK_IMPOSSIBLE_TRAVEL = 0.97
RISK_CARD_TESTING = 0.9
RISK_FLAGGED = 0.75
RISK_AMOUNT_SPIKE = 0.6
FLAGS = {"card_compromised", "account_takeover", "fraud_watch"}


@dataclass(frozen=True)
class Screened:
    tx: Transaction
    risk: float
    outcome: Literal["allow", "escalate"]
    reasons: list[str] = field(default_factory=list)
    signals: dict[str, Signal] = field(default_factory=dict)

    def decision(self) -> FraudDecision:
        """The screening decision published for every event (id stable per transaction).

        Built without re-validation: every field comes from a validated transaction and
        from this module's own rules (this is the hot path: one per event).
        """
        return FraudDecision.model_construct(
            schema_version=1,
            decided_at=datetime.now(UTC),
            approval_id=None,
            event_id=f"screen-{self.tx.transaction_id}",
            transaction_id=self.tx.transaction_id,
            user_id=self.tx.user_id,
            card_id=self.tx.card_id,
            outcome=self.outcome,
            risk_score=self.risk,
            reasons=self.reasons,
            signals=self.signals,
            decided_by="screening",
        )


class Screener:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.s = settings
        self.prefix = settings.redis_prefix
        self.cards = CardLocationStore(client, prefix=f"{self.prefix}:vel")

    def _testing_key(self, card_id: str) -> str:
        return f"{self.prefix}:cardtest:{card_id}"

    def screen(self, txs: Sequence[Transaction]) -> list[Screened]:
        s = self.s
        pipe = self.client.pipeline(transaction=False)
        plan: list[tuple[str, int]] = []  # what each reply is: (kind, index into txs)
        users = sorted({t.user_id for t in txs})
        for u in users:
            pipe.hmget(f"{self.prefix}:profile:{u}", "f:usual_amount", "f:flags")
        for i, t in enumerate(txs):
            sighting = Sighting(t.transaction_id, t.timestamp, t.lat, t.lon, t.channel)
            if sighting.located:
                self.cards.queue(t.card_id, sighting, pipe)
                plan.append(("velocity", i))
            elif t.channel == "card_not_present" and t.amount <= Decimal(
                str(s.fraud_card_testing_max_amount)
            ):
                key = self._testing_key(t.card_id)
                ms = int(t.timestamp.timestamp() * 1000)
                pipe.zadd(key, {t.transaction_id: ms})
                pipe.zcount(key, ms - s.fraud_card_testing_window_s * 1000, ms)
                pipe.expire(key, s.fraud_card_testing_window_s * 2)
                plan.append(("testing", i))
        replies = pipe.execute()
        profiles = {u: replies[j] for j, u in enumerate(users)}
        rest = iter(replies[len(users) :])
        velocity: dict[int, Any] = {}
        testing: dict[int, int] = {}
        for kind, i in plan:
            if kind == "velocity":
                velocity[i] = parse_answer(next(rest))
            else:
                next(rest)
                testing[i] = int(next(rest))
                next(rest)
        return [
            self._judge(t, velocity.get(i, _MISSING), testing.get(i), profiles[t.user_id])
            for i, t in enumerate(txs)
        ]

    def _judge(self, t: Transaction, previous: Any, burst: int | None, profile: Any) -> Screened:
        s = self.s
        risk = 0.0
        reasons: list[str] = []
        signals: dict[str, Signal] = {"amount": float(t.amount), "channel": t.channel}
        if previous is not _MISSING:
            now = Sighting(t.transaction_id, t.timestamp, t.lat, t.lon, t.channel)
            v = assess(
                previous, now, max_kmh=s.velocity_max_kmh, same_place_km=s.velocity_same_place_km
            )
            if v.comparable:
                signals.update(
                    speed_mph=None if v.speed_mph is None else round(v.speed_mph, 1),
                    distance_km=round(v.distance_km or 0.0, 1),
                    seconds=v.seconds,
                    previous_transaction_id=v.previous_transaction_id,
                )
                if not v.feasible:
                    risk = max(risk, RISK_IMPOSSIBLE_TRAVEL)
                    reasons.append(v.reason)
        if burst is not None:
            signals["card_testing_count"] = burst
            if burst >= s.fraud_card_testing_count:
                risk = max(risk, RISK_CARD_TESTING)
                reasons.append(
                    f"card testing: {burst} small online payments within "
                    f"{s.fraud_card_testing_window_s} s"
                )
        usual_raw, flags_raw = profile
        if usual_raw:
            usual = float(json.loads(usual_raw))
            if usual > 0:
                ratio = float(t.amount) / usual
                signals["amount_ratio"] = round(ratio, 2)
                if ratio >= s.fraud_amount_spike_factor:
                    risk = max(risk, RISK_AMOUNT_SPIKE)
                    reasons.append(f"amount {ratio:.0f}x the customer's usual")
        flags = set(json.loads(flags_raw)) if flags_raw else set()
        if flags & FLAGS:
            signals["flagged"] = True
            risk = max(risk, RISK_FLAGGED)
            reasons.append(f"customer flagged: {', '.join(sorted(flags & FLAGS))}")
        outcome: Literal["allow", "escalate"] = (
            "escalate" if risk >= s.fraud_escalate_min_risk else "allow"
        )
        return Screened(t, risk, outcome, reasons, signals)


_MISSING = object()
