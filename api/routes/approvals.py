"""The analysts' inbox: pending proposals, approve or reject, and a live SSE feed.

An answer is checked against the pending request (interrupt id, the exact proposal hash,
still pending), holds the request (the first answer wins: any other gets 409, the same
analyst's same answer again is re-sent) and is published to ``approvals.responses``; the
agent that asked resumes its graph under its own exactly-once machinery, so the API never
acts itself (202 Accepted).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from api.auth import Principal
from api.deps import Staff, Vigil
from api.errors import ConflictError, NotFoundError
from api.sse import feed_response
from api.state import AppState
from tools.approvals import answer
from tools.errors import ApprovalConflictError, ApprovalMismatchError

router = APIRouter(prefix="/approvals", tags=["approvals"])

ApprovalId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=2000)
    proposal_hash: str | None = Field(
        None, description="The hash of the proposal you reviewed; refused if it changed."
    )


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="Why not: required.")
    proposal_hash: str | None = None


class Sent(BaseModel):
    approval_id: str
    decision: Literal["approve", "reject"]
    analyst: str
    status: Literal["sent"] = "sent"
    detail: str


@router.get("")
async def list_approvals(who: Staff, vigil: Vigil) -> list[dict[str, Any]]:
    """Pending proposals, soonest deadline first, with their evidence."""
    return await asyncio.to_thread(vigil.feed.list_pending)


@router.get("/decided")
async def list_decided(
    who: Staff, vigil: Vigil, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    """The latest decided proposals, newest first, each with its decision (who, when, why)."""
    return await asyncio.to_thread(vigil.feed.list_decided, limit)


@router.get("/events", response_class=EventSourceResponse, responses={200: {
    "description": "snapshot, then approval.new and approval.resolved events",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})  # fmt: skip
async def approval_events(who: Staff, vigil: Vigil) -> Any:
    return feed_response(vigil, vigil.feed.subscribe(), "approvals")


@router.get("/{approval_id}")
async def show_approval(approval_id: ApprovalId, who: Staff, vigil: Vigil) -> dict[str, Any]:
    found = await asyncio.to_thread(vigil.feed.show, approval_id)
    if found is None:
        raise NotFoundError(f"no approval {approval_id}")
    return found


async def _decide(
    vigil: AppState,
    who: Principal,
    approval_id: str,
    decision: Literal["approve", "reject"],
    reason: str,
    proposal_hash: str | None,
) -> Sent:
    who.require("analyst", "admin", doing=f"{decision} a proposal")
    try:
        response = await asyncio.to_thread(
            answer, vigil.feed.pending, approval_id, decision,
            analyst=who.subject, reason=reason, proposal_hash=proposal_hash,
        )  # fmt: skip
    except ApprovalMismatchError as exc:
        if str(exc).startswith("no approval"):
            raise NotFoundError(str(exc)) from exc
        raise ConflictError(str(exc)) from exc
    except ApprovalConflictError as exc:
        raise ConflictError(str(exc)) from exc
    try:
        await asyncio.to_thread(vigil.deps.publisher.publish, [response], timeout=10.0)
    except Exception:
        # not sent: the request stays pending for this or another answer
        await asyncio.to_thread(vigil.feed.pending.release, response)
        raise
    vigil.metrics.decisions.labels(decision).inc()
    return Sent(
        approval_id=approval_id,
        decision=decision,
        analyst=who.subject,
        detail="sent to the agent that asked; the feed reports when it is applied",
    )


@router.post("/{approval_id}/approve", status_code=202)
async def approve(approval_id: ApprovalId, body: Approve, who: Staff, vigil: Vigil) -> Sent:
    return await _decide(vigil, who, approval_id, "approve", body.reason, body.proposal_hash)


@router.post("/{approval_id}/reject", status_code=202)
async def reject(approval_id: ApprovalId, body: Reject, who: Staff, vigil: Vigil) -> Sent:
    return await _decide(vigil, who, approval_id, "reject", body.reason, body.proposal_hash)
