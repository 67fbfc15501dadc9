"""What Vigil publishes: decisions, alerts, blocks, approval requests (from agents) and
answers (from the API), work orders."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, field_validator, model_validator

from ingestion.contracts.base import DerivedId, Event, Instant, Text, utcnow
from ingestion.contracts.inputs import Transaction
from vigil.settings import Stream

#: a screening signal's value
Signal = float | int | str | bool | None


def _as_is(value: dict[str, Signal]) -> dict[str, Signal]:
    return value


#: signals written to JSON by their values' own types: the same text as the declared
#: union's, without trying each of its types on every value (40% of a decision's
#: encoding, one decision per payment)
_AS_IS = PlainSerializer(_as_is, return_type=dict[str, Any], when_used="json")


class FraudDecision(Event):
    """The outcome of screening or of the fraud graph for one transaction."""

    STREAM = Stream.FRAUD_DECISIONS
    KEY_FIELD = "user_id"
    PLAIN_JSON = True

    transaction_id: DerivedId
    user_id: DerivedId
    card_id: DerivedId
    outcome: Literal["allow", "escalate", "hold", "block", "release"]
    risk_score: Annotated[float, Field(ge=0, le=1)]
    reasons: list[str] = Field(default_factory=list)
    signals: Annotated[dict[str, Signal], _AS_IS] = Field(default_factory=dict)
    decided_by: Literal["screening", "graph", "policy", "analyst", "fail_safe"]
    decided_at: Instant = Field(default_factory=utcnow)
    approval_id: DerivedId | None = None
    #: an escalated payment's treatment until the graph decides (``fraud_pending_action``)
    pending_action: Literal["hold", "allow"] | None = None
    #: the model's own words about the payment: advice, never one of the ``reasons`` (which
    #: are the rules' and the policy's, deterministic)
    model_note: str | None = Field(None, max_length=4000)


class FraudEscalation(Event):
    """A transaction screening escalated, handed to the fraud graph's stage. Published with
    its screening decision before the transaction's offset is committed; the stage's group
    runs the graph under thread ``fraud:<transaction_id>``."""

    STREAM = Stream.FRAUD_ESCALATIONS
    KEY_FIELD = "user_id"

    user_id: DerivedId
    transaction: Transaction
    risk: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    reasons: Annotated[list[Text], Field(max_length=32)] = Field(default_factory=list)
    signals: Annotated[dict[DerivedId, Signal], Field(max_length=64)] = Field(default_factory=dict)
    screened_at: Instant = Field(default_factory=utcnow)

    @classmethod
    def redact(cls, raw: bytes) -> bytes:
        """It holds a transaction: no card number is ever kept (``Transaction.redact``)."""
        return Transaction.redact(raw)

    @model_validator(mode="after")
    def _one_user(self) -> FraudEscalation:
        if self.user_id != self.transaction.user_id:
            raise ValueError("user_id must be the transaction's user_id")
        return self


class Alert(Event):
    """A notification for people; ``alert_id`` is its idempotency key."""

    STREAM = Stream.ALERTS
    KEY_FIELD = "subject_id"

    alert_id: DerivedId
    severity: Literal["info", "warning", "critical"]
    audience: Literal["fraud_team", "customer_service", "operations", "maintenance", "customer"]
    title: Text
    body: str = ""
    source: DerivedId
    subject_id: DerivedId
    created_at: Instant = Field(default_factory=utcnow)
    refs: dict[str, str] = Field(default_factory=dict)


class BlockAction(Event):
    """A transaction block that was applied, and on whose authority."""

    STREAM = Stream.BLOCK_ACTIONS
    KEY_FIELD = "user_id"

    transaction_id: DerivedId
    card_id: DerivedId
    user_id: DerivedId
    authority: Literal["analyst", "auto_policy"]
    approval_id: DerivedId | None = None
    approved_by: DerivedId
    proposal_hash: DerivedId
    reason: str = ""
    blocked_at: Instant = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _analyst_needs_approval(self) -> BlockAction:
        if self.authority == "analyst" and self.approval_id is None:
            raise ValueError("a block on an analyst's authority names the approval_id")
        return self


#: an approval request's case, as JSON, at most (a page of payments and words, not a dump)
CASE_MAX_BYTES = 32_768


class ApprovalRequest(Event):
    """A paused graph asking a person to approve a proposal before it acts."""

    STREAM = Stream.APPROVAL_REQUESTS
    KEY_FIELD = "approval_id"

    approval_id: DerivedId
    interrupt_id: DerivedId
    thread_id: DerivedId
    kind: Literal["block_transaction", "stop_asset"]
    subject_id: DerivedId
    proposal: dict[str, Any]
    proposal_hash: DerivedId
    evidence: list[str] = Field(default_factory=list)
    requested_at: Instant = Field(default_factory=utcnow)
    deadline: Instant
    #: what the analyst reads beside the proposal: the payments, the travel against the
    #: limit, the deterministic reasons and the model's note, labelled as the model's (not
    #: part of the proposal's hash; a reader of an older release ignores it)
    case: dict[str, Any] | None = None

    @field_validator("case")
    @classmethod
    def _case_fits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A case is a page an analyst reads: at most ``CASE_MAX_BYTES`` of JSON."""
        if value is not None and len(json.dumps(value, default=str)) > CASE_MAX_BYTES:
            raise ValueError(f"case is over {CASE_MAX_BYTES} bytes of JSON")
        return value

    @model_validator(mode="after")
    def _deadline_after_request(self) -> ApprovalRequest:
        if self.deadline <= self.requested_at:
            raise ValueError("deadline must be after requested_at")
        return self


class ApprovalResponse(Event):
    """An analyst's answer, naming exactly the interrupt and proposal it answers."""

    STREAM = Stream.APPROVAL_RESPONSES
    KEY_FIELD = "approval_id"

    approval_id: DerivedId
    interrupt_id: DerivedId
    proposal_hash: DerivedId
    decision: Literal["approve", "reject"]
    analyst: DerivedId
    reason: str = ""
    decided_at: Instant = Field(default_factory=utcnow)


class WorkOrder(Event):
    """A maintenance job raised for an asset."""

    STREAM = Stream.WORK_ORDERS
    KEY_FIELD = "asset_id"

    work_order_id: DerivedId
    asset_id: DerivedId
    priority: Literal["low", "medium", "high", "urgent"]
    action: Text
    rationale: str = ""
    parts: list[DerivedId] = Field(default_factory=list)
    window_start: Instant | None = None
    window_end: Instant | None = None
    #: the job stops the asset (such orders wait for an approval)
    stops_asset: bool = False
    approval_id: DerivedId | None = None
    detected_at: Instant | None = None
    remaining_useful_life_h: Annotated[float, Field(ge=0)] | None = None
    predicted_failure_at: Instant | None = None
    source_event_ids: list[DerivedId] = Field(default_factory=list)
    decided_by: Literal["graph", "policy", "analyst", "fail_safe"] = "graph"
    created_at: Instant = Field(default_factory=utcnow)
