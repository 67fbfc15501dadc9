"""The approvals ledger: who decided what about which proposal, first decision wins."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import redis

from ingestion.contracts import ApprovalResponse
from tools.errors import ApprovalConflictError


def proposal_hash(proposal: Mapping[str, Any]) -> str:
    """A stable fingerprint of a proposal: an approval names the exact thing it approves."""
    canonical = json.dumps(proposal, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class ApprovalLedger:
    def __init__(self, client: redis.Redis, *, prefix: str = "vigil") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, approval_id: str) -> str:
        return f"{self.prefix}:approval:{approval_id}"

    def record(self, response: ApprovalResponse) -> ApprovalResponse:
        """Store a decision. The same decision again is a no-op; a different one is refused."""
        key = self.key(response.approval_id)
        if self.client.hsetnx(key, "decision", response.model_dump_json()):
            return response
        first = self.get(response.approval_id)
        assert first is not None
        same = (first.decision, first.proposal_hash, first.interrupt_id) == (
            response.decision,
            response.proposal_hash,
            response.interrupt_id,
        )
        if not same:
            raise ApprovalConflictError(
                f"approval {response.approval_id} was already decided ({first.decision} by "
                f"{first.analyst} at {first.decided_at.isoformat()}); it cannot be changed"
            )
        return first

    def get(self, approval_id: str) -> ApprovalResponse | None:
        raw = self.client.hget(self.key(approval_id), "decision")
        return None if raw is None else ApprovalResponse.model_validate_json(raw)
