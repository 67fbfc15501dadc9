"""Pausing a graph for a person's approval: the one shape every agent's request takes.

The node calls :func:`ask_approval`; LangGraph's ``interrupt()`` checkpoints the run and
returns the request to the worker (``agents.core``), which makes it durable and
publishes it. The answer comes back as the node's return value on resume:
``{"decision": "approve" | "reject" | "expired", "approval_id": ..., ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langgraph.types import interrupt

from tools.approvals import proposal_hash

ApprovalKind = Literal["block_transaction", "stop_asset"]


def ask_approval(
    *,
    kind: ApprovalKind,
    approval_id: str,
    subject_id: str,
    proposal: Mapping[str, Any],
    evidence: list[str],
    timeout_s: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the request as it was asked, the answer). Pauses the graph until answered."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    request = {
        "approval_id": approval_id,
        "kind": kind,
        "subject_id": subject_id,
        "proposal": dict(proposal),
        "proposal_hash": proposal_hash(proposal),
        "evidence": evidence,
        "deadline": deadline.isoformat(),
    }
    answer: dict[str, Any] = interrupt(request)
    return request, answer
