"""The approvals ledger: who decided what about which proposal, first decision wins."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import redis

from ingestion.contracts import ApprovalRequest, ApprovalResponse
from ingestion.redis_keys import as_text
from tools.errors import ApprovalConflictError, ApprovalMismatchError
from vigil.settings import Settings


def proposal_hash(proposal: Mapping[str, Any]) -> str:
    """A stable fingerprint of a proposal: an approval names the exact thing it approves."""
    canonical = json.dumps(proposal, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class ApprovalLedger:
    def __init__(self, client: redis.Redis, *, prefix: str = "vigil") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def of(cls, settings: Settings, client: redis.Redis) -> ApprovalLedger:
        """The service's ledger of answers, under its prefix."""
        return cls(client, prefix=settings.redis_prefix)

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


#: about how many approval changes the feed's stream keeps
CHANGES_KEPT = 10_000

_CLAIM = r"""
local state = redis.call("HGET", KEYS[1], "state")
if not state then return "missing" end
if state == "pending" then
  redis.call("HSET", KEYS[1], "state", ARGV[1], "decided_at", ARGV[2])
  redis.call("ZREM", KEYS[2], ARGV[3])
  redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", "approval_id", ARGV[3], "state", ARGV[1])
end
return state
"""

#: the first answer an analyst sends holds the request until its agent applies it
_RESERVE = r"""
local state = redis.call("HGET", KEYS[1], "state")
if not state then return {"missing", false} end
if state ~= "pending" then return {state, false} end
if redis.call("HSETNX", KEYS[1], "answer", ARGV[1]) == 1 then return {"reserved", false} end
return {"answered", redis.call("HGET", KEYS[1], "answer")}
"""


class PendingApprovals:
    """Approval requests waiting for an analyst, in Redis: they survive any restart.

    A request moves from ``pending`` to exactly one of ``approve``, ``reject`` or
    ``expired``, atomically; whoever makes that move is the one who resumes the graph.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "vigil") -> None:
        self.client = client
        self.prefix = prefix
        self.deadlines = f"{prefix}:approvals:deadlines"
        #: every move (a new request, a decision, an expiry), in order, for live feeds
        self.changes = f"{prefix}:approvals:changes"
        self._claim = client.register_script(_CLAIM)
        self._reserve = client.register_script(_RESERVE)

    @classmethod
    def of(cls, settings: Settings, client: redis.Redis) -> PendingApprovals:
        """The service's requests: every agent's, and the analysts' inbox, under its prefix."""
        return cls(client, prefix=settings.redis_prefix)

    def key(self, approval_id: str) -> str:
        return f"{self.prefix}:approvals:{approval_id}"

    def add(self, request: ApprovalRequest) -> bool:
        """Idempotent: a request already known (whatever its state) is left as it is."""
        key = self.key(request.approval_id)
        if not self.client.hsetnx(key, "request", request.model_dump_json()):
            return False
        self.client.hset(key, "state", "pending")
        self.client.zadd(self.deadlines, {request.approval_id: request.deadline.timestamp()})
        self._changed(request.approval_id, "pending")
        return True

    def _changed(self, approval_id: str, state: str) -> None:
        fields = {"approval_id": approval_id, "state": state}
        self.client.xadd(self.changes, fields, maxlen=CHANGES_KEPT, approximate=True)  # type: ignore[arg-type]

    def last_change(self) -> str:
        """The id of the latest change ("0-0" if none): read changes after it."""
        last: Any = self.client.xrevrange(self.changes, count=1)
        return as_text(last[0][0]) if last else "0-0"

    def changes_after(self, after: str, block_ms: int) -> list[tuple[str, str, str]]:
        """(change id, approval id, state) after ``after``, waiting up to ``block_ms``."""
        got: Any = self.client.xread({self.changes: after}, count=500, block=block_ms)
        if not got:
            return []
        return [
            (as_text(cid), as_text(f[b"approval_id"]), as_text(f[b"state"])) for cid, f in got[0][1]
        ]

    def get(self, approval_id: str) -> tuple[ApprovalRequest, str] | None:
        raw, state = self.client.hmget(self.key(approval_id), "request", "state")
        if raw is None:
            return None
        return ApprovalRequest.model_validate_json(raw), as_text(state or b"pending")

    def pending(self) -> list[ApprovalRequest]:
        ids = [as_text(i) for i in self.client.zrange(self.deadlines, 0, -1)]  # type: ignore[arg-type]
        found = [self.get(i) for i in ids]
        return [req for f in found if f is not None for req, state in [f] if state == "pending"]

    def decided(self, limit: int = 50) -> list[tuple[ApprovalRequest, str]]:
        """The latest ``limit`` requests decided (approved, rejected, expired), newest first,
        found from the change stream (its last ``CHANGES_KEPT`` changes)."""
        out: list[tuple[ApprovalRequest, str]] = []
        seen: set[str] = set()
        last = "+"
        while len(out) < limit:
            got: Any = self.client.xrevrange(self.changes, max=last, count=200)
            if not got:
                break
            ids: list[str] = []  # the page's decided ones, each read once, in one round trip
            for _cid, fields in got:
                approval_id, state = as_text(fields[b"approval_id"]), as_text(fields[b"state"])
                if state != "pending" and approval_id not in seen:
                    seen.add(approval_id)
                    ids.append(approval_id)
            pipe = self.client.pipeline(transaction=False)
            for approval_id in ids:
                pipe.hmget(self.key(approval_id), "request", "state")
            for raw, state in pipe.execute() if ids else []:
                if raw is not None and state not in (None, b"pending"):
                    out.append((ApprovalRequest.model_validate_json(raw), as_text(state)))
            last = "(" + as_text(got[-1][0])
        return out[:limit]

    def due(self, now: datetime) -> list[str]:
        due = self.client.zrangebyscore(self.deadlines, "-inf", now.timestamp())
        return [as_text(i) for i in due]  # type: ignore[arg-type]

    def claim(self, approval_id: str, decision: str, at: datetime) -> str:
        """Move a pending request to ``decision``; returns the state it was in before."""
        return as_text(
            self._claim(
                keys=[self.key(approval_id), self.deadlines, self.changes],
                args=[decision, at.isoformat(), approval_id, CHANGES_KEPT],
            )
        )

    def reserve(self, response: ApprovalResponse) -> ApprovalResponse:
        """Hold a pending request for this answer until its agent applies it; returns the
        answer that holds it. The same analyst's same answer and reason again gets the first
        one back (a retry, re-sent as it was); any other answer is refused with
        ApprovalConflictError, as is an answer to a request no longer pending."""
        state, held = self._reserve(
            keys=[self.key(response.approval_id)], args=[response.model_dump_json()]
        )
        state = as_text(state)
        if state == "reserved":
            return response
        if state == "missing":
            raise ApprovalMismatchError(f"no approval {response.approval_id}")
        if state != "answered":
            raise ApprovalConflictError(
                f"approval {response.approval_id} was already decided ({state})"
            )
        first = ApprovalResponse.model_validate_json(held)
        fields = ("decision", "analyst", "reason", "interrupt_id", "proposal_hash")
        if all(getattr(first, f) == getattr(response, f) for f in fields):
            return first
        raise ApprovalConflictError(
            f"approval {response.approval_id} was already answered ({first.decision} by "
            f"{first.analyst} at {first.decided_at.isoformat()}); the agent is applying it"
        )

    def release(self, response: ApprovalResponse) -> None:
        """Let go of a reservation whose answer could not be sent (the request stays pending)."""
        key = self.key(response.approval_id)
        if self.client.hget(key, "answer") == response.model_dump_json().encode():
            self.client.hdel(key, "answer")

    def check(
        self, response: ApprovalResponse, found: tuple[ApprovalRequest, str] | None = None
    ) -> ApprovalRequest:
        """The pending request this answer answers, or ApprovalMismatchError saying why not.
        ``found``: the request and its state as just read (``get``), else read here."""
        found = found or self.get(response.approval_id)
        if found is None:
            raise ApprovalMismatchError(f"approval {response.approval_id} does not exist")
        request, state = found
        if response.interrupt_id != request.interrupt_id:
            raise ApprovalMismatchError(
                f"stale approval: {response.approval_id} now waits on interrupt "
                f"{request.interrupt_id}, not {response.interrupt_id}; review the current request"
            )
        if response.proposal_hash != request.proposal_hash:
            raise ApprovalMismatchError(
                f"approval {response.approval_id} names proposal {response.proposal_hash}, but "
                f"the pending proposal is {request.proposal_hash}; review what you approve"
            )
        if state != "pending":
            raise ApprovalMismatchError(
                f"approval {response.approval_id} was already decided ({state}); "
                "a replayed or second answer is refused"
            )
        return request


def answer(
    pending: PendingApprovals,
    approval_id: str,
    decision: Literal["approve", "reject"],
    *,
    analyst: str,
    reason: str = "",
    proposal_hash: str | None = None,
) -> ApprovalResponse:
    """An analyst's answer to a pending request, checked and reserved (``reserve``); the
    caller publishes it, or releases it (``release``) if it cannot.

    ``proposal_hash`` is what the analyst saw, compared exactly (an empty or padded hash is
    not the proposal's); left out, it is the pending one's. Raises ApprovalMismatchError
    (unknown, stale, altered, already decided) or ApprovalConflictError (another answer
    holds the request) with the reason.
    """
    found = pending.get(approval_id)
    if found is None:
        raise ApprovalMismatchError(f"no approval {approval_id}")
    request, _state = found
    if proposal_hash is not None and proposal_hash != request.proposal_hash:
        raise ApprovalMismatchError(
            f"approval {approval_id} names proposal {proposal_hash!r}, but the pending "
            f"proposal is {request.proposal_hash}; review what you approve"
        )
    response = ApprovalResponse(
        approval_id=approval_id,
        interrupt_id=request.interrupt_id,
        proposal_hash=request.proposal_hash,
        decision=decision,
        analyst=analyst,
        reason=reason,
    )
    pending.check(response, found)
    return pending.reserve(response)
