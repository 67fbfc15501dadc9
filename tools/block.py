"""The block-transaction action: only with an approval of exactly this proposal, only once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestion.contracts import BlockAction
from tools.approvals import ApprovalLedger, proposal_hash
from tools.errors import NotApprovedError
from tools.once import OnceEmitter


@dataclass(frozen=True)
class AutoPolicy:
    """A configured policy that may block without an analyst at or above ``min_risk``."""

    name: str
    min_risk: float


@dataclass(frozen=True)
class BlockOutcome:
    action: BlockAction
    applied_now: bool  # False: it had been applied before; this call changed nothing


def block_proposal(
    transaction_id: str, card_id: str, user_id: str, reason: str, risk: float
) -> dict[str, Any]:
    """The proposal an approval is asked for (and hashed over)."""
    return {
        "action": "block_transaction",
        "transaction_id": transaction_id,
        "card_id": card_id,
        "user_id": user_id,
        "reason": reason,
        "risk": round(float(risk), 4),
    }


class BlockService:
    def __init__(
        self, ledger: ApprovalLedger, emitter: OnceEmitter, auto_policy: AutoPolicy | None = None
    ) -> None:
        self.ledger = ledger
        self.emitter = emitter
        self.auto_policy = auto_policy

    def block(self, proposal: dict[str, Any], *, approval_id: str | None) -> BlockOutcome:
        tx = str(proposal["transaction_id"])
        done = self.emitter.recorded("block", tx, BlockAction)
        if done is not None:  # idempotent: the first outcome, whatever this call carries
            action, _ = self.emitter.emit_once("block", tx, done)  # publish if it never was
            return BlockOutcome(action, applied_now=False)
        digest = proposal_hash(proposal)
        if approval_id is not None:
            record = self.ledger.get(approval_id)
            if record is None:
                raise NotApprovedError(
                    f"approval {approval_id} does not exist: request an analyst's approval "
                    "and wait for it before blocking"
                )
            if record.decision != "approve":
                raise NotApprovedError(
                    f"approval {approval_id} was rejected by {record.analyst}: do not block; "
                    "release the transaction"
                )
            if record.proposal_hash != digest:
                raise NotApprovedError(
                    f"approval {approval_id} approves a different proposal "
                    f"({record.proposal_hash}, this one is {digest}): ask for a new approval"
                )
            authority, approved_by = "analyst", record.analyst
        elif self.auto_policy is not None and float(proposal["risk"]) >= self.auto_policy.min_risk:
            authority, approved_by = "auto_policy", f"auto:{self.auto_policy.name}"
        else:
            raise NotApprovedError(
                "no approval: a block needs an analyst's approval of this exact proposal "
                "(or a configured auto-policy); request one and wait"
            )
        action = BlockAction(
            event_id=f"block-{tx}",
            transaction_id=tx,
            card_id=str(proposal["card_id"]),
            user_id=str(proposal["user_id"]),
            authority=authority,
            approval_id=approval_id,
            approved_by=approved_by,
            proposal_hash=digest,
            reason=str(proposal.get("reason", "")),
        )
        winner, first = self.emitter.emit_once("block", tx, action)
        return BlockOutcome(winner, applied_now=first)
