"""The fraud agent's binding: transactions -> screening -> fraud.escalations -> the fraud graph.

Screening publishes a decision (id ``screen-<tx>``) for every transaction; what it flags
is handed to the escalation stage (``fraud.escalations``, its own consumer group), which
runs the fraud graph under thread ``fraud:<tx>``; a block waits for an analyst. All of
the running, committing, approving and expiring is the shared machinery of
``agents.core``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from agents.core import AgentDeps, Binding, Escalation, Screening, SideInput
from agents.fraud.labels import LabelStore
from agents.fraud.screening import Screened, Screener
from agents.stage import Stage
from graphs.fraud import APPROVAL_PREFIX, FraudContext, FraudState, build_graph, policy_vector
from ingestion.contracts import Alert, FraudEscalation, FraudLabel, Transaction
from vigil.settings import Stream

__all__ = ["APPROVAL_PREFIX", "NAME", "STAGE", "binding", "escalation"]

NAME = "fraud"


def escalation(s: Screened) -> Escalation[FraudState]:
    """The fraud graph's input for a flagged transaction."""
    return Escalation(
        subject=s.tx.transaction_id,
        start={
            "transaction": s.tx.model_dump(mode="json"),
            "screening": {"risk": s.risk, "reasons": s.reasons, "signals": s.signals},
        },
    )


def confirmation(s: Screened) -> Alert:
    """The customer is asked to confirm a held payment (the model's medium band)."""
    tx = s.tx
    return Alert(
        alert_id=f"confirm-{tx.transaction_id}",
        severity="warning",
        audience="customer",
        title="Did you make this payment?",
        body=f"{tx.amount} {tx.currency} at {tx.merchant} on {tx.timestamp:%d %b %Y %H:%M} UTC "
        "is on hold until you confirm it.",
        source="fraud-screening",
        subject_id=tx.user_id,
        created_at=s.decided_at,
        refs={"transaction_id": tx.transaction_id, "card_id": tx.card_id},
    )


def handoff(esc: Escalation[FraudState]) -> FraudEscalation:
    """The record that carries an escalation to the stage (validated: it is an input)."""
    screening = esc.start["screening"]
    tx = esc.start["transaction"]
    return FraudEscalation(
        event_id=f"escalation-{esc.subject}",
        user_id=tx["user_id"],
        transaction=tx,
        risk=screening["risk"],
        reasons=screening["reasons"],
        signals=screening["signals"],
    )


def restore(record: FraudEscalation) -> Escalation[FraudState]:
    """The graph's input again, from the stage's record (the same as screening's)."""
    return Escalation(
        subject=record.transaction.transaction_id,
        start={
            "transaction": record.transaction.model_dump(mode="json"),
            "screening": {
                "risk": record.risk,
                "reasons": list(record.reasons),
                "signals": dict(record.signals),
            },
        },
    )


STAGE: Stage[FraudState] = Stage(model=FraudEscalation, record=handoff, restore=restore)


def binding(deps: AgentDeps) -> Binding[Transaction, FraudState, FraudContext]:
    s = deps.settings
    screener = Screener(deps.redis, s)
    labels = LabelStore(deps.redis, s.redis_prefix)

    def screen(txs: Sequence[Transaction]) -> Iterator[Screening[FraudState]]:
        for screened in screener.parts(txs):  # each published while Redis does the next
            yield Screening(
                publish=[x.decision() for x in screened]
                + [confirmation(x) for x in screened if x.outcome == "hold"],
                escalate=[escalation(x) for x in screened if x.outcome == "escalate"],
                not_applied=Counter(k for x in screened for k in x.not_applied),
            )

    return Binding(
        name=NAME,
        input=Stream.TRANSACTIONS,
        model=Transaction,
        screen=screen,
        graph=build_graph(deps.checkpointer),
        context=FraudContext(
            tools=deps.tools,
            gateway=deps.gateway,
            emitter=deps.emitter,
            block_min_risk=s.fraud_block_min_risk,
            approval_timeout_s=s.approval_timeout_s,
            fail_safe=s.approval_fail_safe,
            wait_for_model=s.fraud_wait_for_model,
            max_kmh=s.velocity_max_kmh,
        ),
        stage=STAGE,
        # labels find their payments by what the features keep: without them, nothing to do
        side_inputs=(
            (SideInput(Stream.FRAUD_LABELS, FraudLabel, labels.handler),)
            if s.fraud_features
            else ()
        ),
        warm=lambda: policy_vector(deps.tools.embedder),
        ready=screener.load,
        approval_prefix=APPROVAL_PREFIX,
        claims_unknown_approvals=True,
        outputs=(
            Stream.FRAUD_DECISIONS,
            Stream.APPROVAL_REQUESTS,
            Stream.BLOCK_ACTIONS,
            Stream.ALERTS,
            Stream.FRAUD_LABELS,
        ),
    )
