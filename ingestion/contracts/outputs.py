"""What Vigil publishes: decisions, alerts, blocks, approval requests (from agents) and
answers (from the API), work orders."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from ingestion.contracts.base import Event, Id, Text, utcnow
from vigil.settings import Stream


class FraudDecision(Event):
    """The outcome of screening or of the fraud graph for one transaction."""

    STREAM = Stream.FRAUD_DECISIONS
    KEY_FIELD = "user_id"

    transaction_id: Id
    user_id: Id
    card_id: Id
    outcome: Literal["allow", "escalate", "hold", "block", "release"]
    risk_score: Annotated[float, Field(ge=0, le=1)]
    reasons: list[str] = Field(default_factory=list)
    signals: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
    decided_by: Literal["screening", "graph", "policy", "analyst", "fail_safe"]
    decided_at: AwareDatetime = Field(default_factory=utcnow)
    approval_id: Id | None = None


class Alert(Event):
    """A notification for people; ``alert_id`` is its idempotency key."""

    STREAM = Stream.ALERTS
    KEY_FIELD = "subject_id"

    alert_id: Id
    severity: Literal["info", "warning", "critical"]
    audience: Literal["fraud_team", "customer_service", "operations", "maintenance", "customer"]
    title: Text
    body: str = ""
    source: Id
    subject_id: Id
    created_at: AwareDatetime = Field(default_factory=utcnow)
    refs: dict[str, str] = Field(default_factory=dict)


class BlockAction(Event):
    """A transaction block that was applied, and on whose authority."""

    STREAM = Stream.BLOCK_ACTIONS
    KEY_FIELD = "user_id"

    transaction_id: Id
    card_id: Id
    user_id: Id
    authority: Literal["analyst", "auto_policy"]
    approval_id: Id | None = None
    approved_by: Id
    proposal_hash: Id
    reason: str = ""
    blocked_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _analyst_needs_approval(self) -> BlockAction:
        if self.authority == "analyst" and self.approval_id is None:
            raise ValueError("a block on an analyst's authority names the approval_id")
        return self


class ApprovalRequest(Event):
    """A paused graph asking a person to approve a proposal before it acts."""

    STREAM = Stream.APPROVAL_REQUESTS
    KEY_FIELD = "approval_id"

    approval_id: Id
    interrupt_id: Id
    thread_id: Id
    kind: Literal["block_transaction", "stop_asset"]
    subject_id: Id
    proposal: dict[str, Any]
    proposal_hash: Id
    evidence: list[str] = Field(default_factory=list)
    requested_at: AwareDatetime = Field(default_factory=utcnow)
    deadline: AwareDatetime

    @model_validator(mode="after")
    def _deadline_after_request(self) -> ApprovalRequest:
        if self.deadline <= self.requested_at:
            raise ValueError("deadline must be after requested_at")
        return self


class ApprovalResponse(Event):
    """An analyst's answer, naming exactly the interrupt and proposal it answers."""

    STREAM = Stream.APPROVAL_RESPONSES
    KEY_FIELD = "approval_id"

    approval_id: Id
    interrupt_id: Id
    proposal_hash: Id
    decision: Literal["approve", "reject"]
    analyst: Id
    reason: str = ""
    decided_at: AwareDatetime = Field(default_factory=utcnow)


class WorkOrder(Event):
    """A maintenance job raised for an asset."""

    STREAM = Stream.WORK_ORDERS
    KEY_FIELD = "asset_id"

    work_order_id: Id
    asset_id: Id
    priority: Literal["low", "medium", "high", "urgent"]
    action: Text
    rationale: str = ""
    parts: list[Id] = Field(default_factory=list)
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    #: the job stops the asset (such orders wait for an approval)
    stops_asset: bool = False
    approval_id: Id | None = None
    detected_at: AwareDatetime | None = None
    remaining_useful_life_h: Annotated[float, Field(ge=0)] | None = None
    predicted_failure_at: AwareDatetime | None = None
    source_event_ids: list[Id] = Field(default_factory=list)
    decided_by: Literal["graph", "policy", "analyst", "fail_safe"] = "graph"
    created_at: AwareDatetime = Field(default_factory=utcnow)
