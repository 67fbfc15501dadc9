"""Pausing a graph for a person's approval: the one shape every agent's request takes.

The node calls :func:`ask_approval`; LangGraph's ``interrupt()`` checkpoints the run and
returns the request to the worker (``agents.core``), which makes it durable and
publishes it. The answer comes back as the node's return value on resume:
``{"decision": "approve" | "reject" | "expired", "approval_id": ..., ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired

from langgraph.types import interrupt
from typing_extensions import TypedDict

from tools.approvals import proposal_hash

ApprovalKind = Literal["block_transaction", "stop_asset"]


class ApprovalAsk(TypedDict):
    """What the graph asks (the interrupt's value): the worker makes it an ApprovalRequest."""

    approval_id: str
    kind: ApprovalKind
    subject_id: str
    proposal: dict[str, Any]
    proposal_hash: str
    evidence: list[str]
    #: ISO 8601
    deadline: str
    #: what an analyst reads beside the proposal (the payments, the travel, the model's
    #: note): not hashed, not part of what is approved
    case: NotRequired[dict[str, Any]]


class ApprovalAnswer(TypedDict):
    """What the graph is resumed with: a person's decision, or the deadline's."""

    decision: Literal["approve", "reject", "expired"]
    approval_id: str
    analyst: NotRequired[str]
    reason: NotRequired[str]


def ask_approval(
    *,
    kind: ApprovalKind,
    approval_id: str,
    subject_id: str,
    proposal: Mapping[str, Any],
    evidence: list[str],
    timeout_s: float,
    case: Mapping[str, Any] | None = None,
) -> tuple[ApprovalAsk, ApprovalAnswer]:
    """(the request as it was asked, the answer). Pauses the graph until answered."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    request: ApprovalAsk = {
        "approval_id": approval_id,
        "kind": kind,
        "subject_id": subject_id,
        "proposal": dict(proposal),
        "proposal_hash": proposal_hash(proposal),
        "evidence": evidence,
        "deadline": deadline.isoformat(),
    }
    if case is not None:
        request["case"] = dict(case)
    answer: ApprovalAnswer = interrupt(request)
    return request, answer
