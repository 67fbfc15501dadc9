"""The fraud agent's binding: transactions -> screening -> the fraud graph.

Screening publishes a decision (id ``screen-<tx>``) for every transaction; what it flags
runs the fraud graph under thread ``fraud:<tx>``; a block waits for an analyst. All of
the running, committing, approving and expiring is the shared machinery of
``agents.core``.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.core import AgentDeps, Binding, Escalation, Screening
from agents.fraud.screening import Screened, Screener
from graphs.fraud import APPROVAL_PREFIX, FraudContext, FraudState, build_graph
from ingestion.contracts import Transaction
from vigil.settings import Stream

__all__ = ["APPROVAL_PREFIX", "NAME", "binding", "escalation"]

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


def binding(deps: AgentDeps) -> Binding[Transaction, FraudState, FraudContext]:
    s = deps.settings
    screener = Screener(deps.redis, s)

    def screen(txs: Sequence[Transaction]) -> Screening[FraudState]:
        screened = screener.screen(txs)
        return Screening(
            publish=[x.decision() for x in screened],
            escalate=[escalation(x) for x in screened if x.outcome == "escalate"],
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
        ),
        approval_prefix=APPROVAL_PREFIX,
        claims_unknown_approvals=True,
        outputs=(
            Stream.FRAUD_DECISIONS,
            Stream.APPROVAL_REQUESTS,
            Stream.BLOCK_ACTIONS,
            Stream.ALERTS,
        ),
    )
