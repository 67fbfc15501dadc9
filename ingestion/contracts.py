"""Event contracts: one pydantic model per stream, a schema version, JSON serde.

Readers are tolerant (unknown fields are ignored, so producers can add fields
without breaking consumers); a ``schema_version`` this code cannot read is refused
with its own error kind. Every event names the field it is keyed by on Kafka, so
per-entity order holds within a partition.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingestion.errors import ContractError
from vigil.settings import Stream

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]

_PAN = re.compile(r"^\d{13,19}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Event(BaseModel):
    """Fields and behaviour every contract shares."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    SCHEMA_VERSION: ClassVar[int] = 1
    KEY_FIELD: ClassVar[str]
    STREAM: ClassVar[Stream]

    schema_version: int = 1
    event_id: Id = Field(default_factory=new_id)

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, value: int) -> int:
        if value != cls.SCHEMA_VERSION:
            raise PydanticCustomError(
                "schema_version",
                "schema_version {got} is not readable here (this consumer reads {want})",
                {"got": value, "want": cls.SCHEMA_VERSION},
            )
        return value

    @property
    def key(self) -> str:
        """The Kafka key: the entity whose events must stay in order."""
        value: str = getattr(self, self.KEY_FIELD)
        return value


Channel = Literal["card_present", "card_not_present", "atm"]


class Transaction(Event):
    """A card transaction: purchase (present or not) or ATM withdrawal."""

    STREAM = Stream.TRANSACTIONS
    KEY_FIELD = "user_id"

    transaction_id: Id
    user_id: Id
    card_id: Id
    timestamp: AwareDatetime
    amount: Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=4)]
    currency: Currency
    merchant: Text
    merchant_category: Id = "other"
    channel: Channel
    lat: Latitude | None = None
    lon: Longitude | None = None
    city: Id | None = None
    country: Country | None = None

    @field_validator("card_id")
    @classmethod
    def _no_clear_pan(cls, value: str) -> str:
        if _PAN.match(value.replace(" ", "").replace("-", "")):
            raise ValueError("card_id looks like a card number; send the card token, never the PAN")
        return value

    @model_validator(mode="after")
    def _located_when_present(self) -> Transaction:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together: give both or neither")
        if self.channel != "card_not_present" and self.lat is None:
            raise ValueError(f"a {self.channel} transaction needs lat/lon of where the card was")
        return self


class CustomerProfilePatch(BaseModel):
    """Customer-360 fields; every field optional so a change can carry a subset."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Text | None = None
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    marital_status: Literal["single", "married", "divorced", "widowed", "partnered"] | None = None
    segment: Id | None = None
    home_city: Id | None = None
    credit_score: Annotated[int, Field(ge=300, le=850)] | None = None
    tenure_years: Annotated[float, Field(ge=0, le=150)] | None = None
    home_ownership: Literal["own_outright", "mortgage", "rent", "other"] | None = None
    cards: list[Id] | None = None
    flags: list[Id] | None = None
    usual_amount: Annotated[Decimal, Field(ge=0)] | None = None


class CustomerChange(Event):
    """A change-data-capture record for one customer; ``version`` orders changes."""

    STREAM = Stream.CUSTOMER_CHANGES
    KEY_FIELD = "customer_id"

    customer_id: Id
    version: Annotated[int, Field(ge=1)]
    op: Literal["upsert", "patch", "delete"]
    profile: CustomerProfilePatch | None = None
    changed_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _op_matches_payload(self) -> CustomerChange:
        if self.op == "delete" and self.profile is not None:
            raise ValueError("a delete carries no profile")
        if self.op == "upsert" and (self.profile is None or self.profile.name is None):
            raise ValueError("an upsert carries the full profile, at least a name")
        if self.op == "patch" and (
            self.profile is None or not self.profile.model_dump(exclude_none=True)
        ):
            raise ValueError("a patch carries at least one profile field")
        return self


class KnowledgeDocument(Event):
    """A document for the knowledge base, upserted or deleted by id and version."""

    STREAM = Stream.KNOWLEDGE_DOCUMENTS
    KEY_FIELD = "doc_id"

    doc_id: Id
    version: Annotated[int, Field(ge=1)]
    op: Literal["upsert", "delete"] = "upsert"
    kb: Id = "general"
    title: str = ""
    body: str = ""
    tags: list[Id] = Field(default_factory=list)
    source: str | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _content_for_upsert(self) -> KnowledgeDocument:
        if self.op == "upsert" and not (self.title.strip() and self.body.strip()):
            raise ValueError("an upsert needs a non-empty title and body")
        return self


def _finite(values: dict[str, float]) -> dict[str, float]:
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite values for {bad}")
    return values


class SensorReading(Event):
    """One reading of an asset's sensors (vibration, temperature, pressure, ...)."""

    STREAM = Stream.SENSOR_READINGS
    KEY_FIELD = "asset_id"

    asset_id: Id
    asset_type: Id
    timestamp: AwareDatetime
    metrics: Annotated[dict[str, float], Field(min_length=1)]
    units: dict[str, str] = Field(default_factory=dict)
    site: Id | None = None

    @field_validator("metrics")
    @classmethod
    def _finite_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        return _finite(value)


Severity = Literal["info", "minor", "moderate", "severe", "extreme"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "minor": 1, "moderate": 2, "severe": 3, "extreme": 4}


class Region(BaseModel):
    """Where a signal applies: cities (customers' home cities) and sites (assets' sites)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Text
    cities: list[Id] = Field(default_factory=list)
    sites: list[Id] = Field(default_factory=list)

    @model_validator(mode="after")
    def _somewhere(self) -> Region:
        if not self.cities and not self.sites:
            raise ValueError("a region names at least one city or site")
        return self


class MonitoringSignal(Event):
    """Something happening out there (weather, markets, geopolitics, infrastructure).

    ``signal_id`` is the source's id of the happening: repeats and re-sends share it.
    """

    STREAM = Stream.MONITORING_SIGNALS
    KEY_FIELD = "signal_id"

    signal_id: Id
    category: Literal["weather", "market", "geopolitical", "infrastructure"]
    severity: Severity
    region: Region
    headline: Text
    description: str = ""
    source: Id = "unknown"
    issued_at: AwareDatetime
    expires_at: AwareDatetime | None = None


class MaintenanceLog(Event):
    """A maintenance job done on an asset (its history, and what closes a work order)."""

    STREAM = Stream.MAINTENANCE_LOGS
    KEY_FIELD = "asset_id"

    log_id: Id
    asset_id: Id
    performed_at: AwareDatetime
    kind: Literal["inspection", "lubrication", "repair", "replacement", "calibration"]
    summary: Text
    parts: list[Id] = Field(default_factory=list)
    technician: Id | None = None
    work_order_id: Id | None = None


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


CONTRACTS: dict[Stream, type[Event]] = {
    model.STREAM: model
    for model in (
        Transaction,
        CustomerChange,
        KnowledgeDocument,
        SensorReading,
        MonitoringSignal,
        MaintenanceLog,
        FraudDecision,
        Alert,
        BlockAction,
        ApprovalRequest,
        ApprovalResponse,
        WorkOrder,
    )
}

E = TypeVar("E", bound=Event)


def encode(event: Event) -> bytes:
    """JSON bytes of an event (decimals as strings, datetimes as ISO 8601)."""
    return event.__pydantic_serializer__.to_json(event)


def decode(model: type[E], data: bytes | str) -> E:
    """Parse and validate one event, or raise ContractError with the reason."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise _contract_error(model.__name__, exc) from exc


def _contract_error(name: str, exc: ValidationError) -> ContractError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return ContractError(name, "decode", f"not valid JSON: {errors[0]['msg']}")
    if any(e["type"] == "schema_version" for e in errors):
        msg = next(e["msg"] for e in errors if e["type"] == "schema_version")
        return ContractError(name, "schema_version", msg)
    if any(e["type"] == "model_type" and not e["loc"] for e in errors):
        return ContractError(name, "decode", "expected a JSON object")
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e["loc"]) or "event"
        parts.append(f"{where}: {e['msg']}")
    return ContractError(name, "validation", "; ".join(parts))
