"""What screening decides beyond its rules: the risk model's bands over the rules'
verdicts, and cards under review (a recent flag) or with a confirmed fraud (a label)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import redis

from agents.fraud.behaviour import BehaviourKeys
from agents.fraud.inputs import Table
from agents.fraud.model import RiskModel
from agents.fraud.training import routine
from ingestion.contracts import FraudDecision, Transaction, construct
from ingestion.contracts.outputs import Signal
from vigil.settings import Settings

RISK_CONFIRMED = 0.95


@dataclass(slots=True)
class Screened:
    """One payment's verdict. Not frozen: one is built per payment on the hot path, a
    frozen one's fields are set one call at a time (five times the cost), and the risk
    model's bands set the rules' verdict in place (``scored``), before anyone else
    sees it; nothing changes one after screening hands it over."""

    tx: Transaction
    risk: float
    #: hold: the model's medium band (the customer is asked to confirm)
    outcome: Literal["allow", "hold", "escalate"]
    reasons: list[str] = field(default_factory=list)
    signals: dict[str, Signal] = field(default_factory=dict)
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: what an escalated payment gets until the graph decides
    pending_action: Literal["hold", "allow"] | None = None
    #: the rules that could not be applied to it: (rule, why)
    not_applied: tuple[tuple[str, str], ...] = ()
    #: the risk of the rules that are floors whatever a model says (impossible travel,
    #: card testing, a flagged customer)
    hard_risk: float = 0.0

    def decision(self) -> FraudDecision:
        """The screening decision published for every event (id stable per transaction).

        Built without re-validation: every field comes from a validated transaction and
        from this module's own rules (this is the hot path: one per event).
        """
        tx = self.tx
        return construct(
            FraudDecision,
            {
                "schema_version": 1,
                "event_id": f"screen-{tx.transaction_id}",
                "transaction_id": tx.transaction_id,
                "user_id": tx.user_id,
                "card_id": tx.card_id,
                "outcome": self.outcome,
                "risk_score": self.risk,
                "reasons": self.reasons,
                "signals": self.signals,
                "decided_by": "screening",
                "decided_at": self.decided_at,
                "approval_id": None,
                "pending_action": self.pending_action,
                "model_note": None,
            },
        )


def under_review(decided: list[Screened], flags: Sequence[bytes | str], s: Settings,
                 client: redis.Redis, keys: BehaviourKeys,
                 started: dict[str, int] | None = None,
                 deferred: set[str] | None = None) -> list[Screened]:  # fmt: skip
    """A card with a payment escalated in the last ``fraud_card_review_s`` has its later
    payments held too, until the case is decided (a thief's next payments, a clone's next
    ones abroad), those later in the same batch included. Only escalations (the rules'
    floors, the model's high band) start a review: a hold is a question to the customer,
    and a payment held for a review does not prolong it. ``started``: the cards escalated
    earlier in the batch (its parts share it), when; updated. ``deferred``: the cards
    whose flags the caller writes later (``write_flags``, once the batch's other parts
    are answered), added to it; without it they are written here."""
    window_ms = s.fraud_card_review_s * 1000
    out: list[Screened] = []
    started = {} if started is None else started
    new: set[str] = set()
    confirmed: set[str] = set()
    for x, raw in zip(decided, flags, strict=True):
        if raw in (b"fraud", "fraud"):  # a label confirmed a fraud on this card
            confirmed.add(x.tx.card_id)
            reasons = [*x.reasons, "card compromised: a fraud on it was confirmed (a label); "
                                   "its payments go to an analyst"]  # fmt: skip
            risk = max(x.risk, RISK_CONFIRMED)
            hard = max(x.hard_risk, risk)
            signals = {**x.signals, "card_confirmed_fraud": True, "hard_risk": hard}
            out.append(replace(x, outcome="escalate", risk=risk, reasons=reasons,
                               pending_action=s.fraud_pending_action,
                               hard_risk=hard, signals=signals))  # fmt: skip
            continue
        card = x.tx.card_id
        if x.outcome != "allow":
            if x.outcome == "escalate":  # a hold is a question to the customer, no review
                ts = int(x.tx.timestamp.timestamp() * 1000)
                started[card] = max(ts, started.get(card, ts))
                new.add(card)
            out.append(x)
            continue
        if not raw and card not in started:  # most payments: no review to look at
            out.append(x)
            continue
        # the latest flag before it: from an earlier batch (Redis), or earlier in this one
        ts = int(x.tx.timestamp.timestamp() * 1000)
        flagged = [int(raw)] if raw else []
        if card in started and started[card] <= ts:
            flagged.append(started[card])
        since = ts - max(flagged) if flagged else None
        if since is None or not 0 <= since <= window_ms or window_ms <= 0:
            out.append(x)
            continue
        signals = {**x.signals, "card_flagged_s_ago": round(since / 1000, 1)}
        if routine(x.signals):  # the owner's own shopping goes on during a review
            why = (f"card under review (a payment on it was flagged {since / 60000:.0f} min "
                   "before), not held: a shop this customer already uses, near home, an "
                   "ordinary amount for them")  # fmt: skip
            out.append(replace(x, reasons=[*x.reasons, why], signals=signals))
            continue
        why = (f"card under review: a payment on it was flagged {since / 60000:.0f} min "
               "before; held until that is decided")  # fmt: skip
        reasons = [*x.reasons, why]
        out.append(replace(x, outcome="hold", pending_action="hold", reasons=reasons,
                           signals=signals))  # fmt: skip
    if window_ms > 0:
        if deferred is not None:
            deferred |= new - confirmed
        else:
            write_flags(client, keys, started, new - confirmed, window_ms)
    return out


def write_flags(client: redis.Redis, keys: BehaviourKeys, started: Mapping[str, int],
                cards: set[str], window_ms: int) -> None:  # fmt: skip
    """Each card's latest escalation (``started``) as its review flag, for the batches
    after this one (one round trip)."""
    if not cards:
        return
    pipe = client.pipeline(transaction=False)
    for card in cards:
        pipe.set(keys.flag(card), started[card], px=window_ms)
    pipe.execute()


def scored(judged: list[Screened], model: RiskModel, shadow: RiskModel | None, s: Settings,
           known: Table | None = None) -> list[Screened]:  # fmt: skip
    """The model's bands over the rules' verdicts: the hard rules stay floors; the
    others are the model's inputs (its signals), not verdicts of their own. Each
    verdict is set in place, its signals gaining the model's figures: ``judged`` is the
    batch's own, made by screening's rules and handed over (a second verdict a payment
    cost a tenth of this function's time). ``known``: columns of the signals already at
    hand (``inputs.Raw``)."""
    rows = [x.signals for x in judged]
    inputs = model.inputs(rows, known)
    raw = model.score(rows, inputs)
    scores: list[float] = raw.tolist()
    rounded: list[float] = raw.round(4).tolist()
    shadows: list[float] | None = (
        None if shadow is None else shadow.score(rows, shadow.inputs(rows, known)).tolist()
    )
    bands = model.bands
    told = np.flatnonzero(raw >= bands.medium).tolist()
    said = model.explain([rows[i] for i in told], x=inputs[told]) if told else []
    words = dict(zip(told, said, strict=True))
    floor, version = s.fraud_escalate_min_risk, model.version
    for i, x in enumerate(judged):  # each the batch's own: its verdict is set in place
        p = scores[i]
        band = bands.of(p)
        signals = x.signals
        signals["model_risk"] = rounded[i]
        signals["model_band"] = band
        signals["model_version"] = version
        if shadows is not None and shadow is not None:
            signals["model_shadow_risk"] = round(shadows[i], 4)
            signals["model_shadow_version"] = shadow.version
        if band != "low":
            cut = bands.high if band == "high" else bands.medium
            reasons = [*x.reasons, f"risk model {version}: fraud probability {p:.2f}, {band} "
                                   f"band (from {cut:.2f})"]  # fmt: skip
            x.reasons = reasons + [w for w in words[i]
                                   if not any(r.startswith(w) for r in reasons)]  # fmt: skip
        if x.hard_risk >= floor or band == "high":
            x.outcome, x.pending_action = "escalate", s.fraud_pending_action
            p = min(max(x.hard_risk, p, s.fraud_block_min_risk if band == "high" else 0.0), 1.0)
        elif band == "medium":
            x.outcome, x.pending_action = "hold", "hold"
        else:
            x.outcome, x.pending_action = "allow", None
        x.risk = p
    return judged
