"""The streams the outside world sends Vigil: payments, customer changes, documents,
sensor readings, monitoring signals, maintenance logs."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ingestion.contracts.base import (
    Country,
    Currency,
    Event,
    Id,
    Instant,
    Label,
    Latitude,
    Longitude,
    LongText,
    Measure,
    Text,
    Version,
    utcnow,
)
from vigil.settings import Stream

_PAN = re.compile(r"^\d{13,19}$")
#: a JSON string; a run of digits that may be a card number; a JSON number that may be one
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_DIGIT_RUN = re.compile(rb"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_PAN_NUMBER = re.compile(rb"(?:(?<=[:\[,])|^)(\s*)(\d{13,19})(?![\d.eE])")


def _luhn(digits: bytes) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ch - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _masked(text: bytes) -> bytes | None:
    digits = bytes(ch for ch in text if 48 <= ch <= 57)
    if not 13 <= len(digits) <= 19 or not _luhn(digits):
        return None
    return digits[:6] + b"*" * (len(digits) - 10) + digits[-4:]


def _mask_runs(text: bytes) -> bytes:
    """Every Luhn-valid run of 13-19 digits in ``text``, masked."""
    return _DIGIT_RUN.sub(lambda d: _masked(d.group(0)) or d.group(0), text)


def mask_pans(raw: bytes) -> bytes:
    """Every run of 13-19 digits inside a JSON string (spaces and dashes allowed) and
    every JSON number of 13-19 digits that passes the Luhn check, cut to its first 6 and
    last 4 digits (a number becomes a string); in bytes that are not JSON, every such run."""

    def in_string(m: re.Match[bytes]) -> bytes:
        return _mask_runs(m.group(0))

    def number(m: re.Match[bytes]) -> bytes:
        masked = _masked(m.group(2))
        return m.group(0) if masked is None else m.group(1) + b'"' + masked + b'"'

    try:
        json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or nested too deep): every digit run
        return _mask_runs(raw)
    return _PAN_NUMBER.sub(number, _JSON_STRING.sub(in_string, raw))


Channel = Literal["card_present", "card_not_present", "atm"]


class Transaction(Event):
    """A card transaction: purchase (present or not) or ATM withdrawal.

    Schema 2 adds the terminal (``terminal_id``: the acquirer's id of the device or web
    shop) and, for a card-not-present order, where it is delivered (``delivery_lat``,
    ``delivery_lon``); schema 1 records, which carry neither, are still read."""

    STREAM = Stream.TRANSACTIONS
    KEY_FIELD = "user_id"
    SCHEMA_VERSION = 2
    READS = frozenset({1})

    schema_version: int = 2
    transaction_id: Id
    user_id: Id
    card_id: Id
    timestamp: Instant
    amount: Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=4)]
    currency: Currency
    merchant: Text
    merchant_category: Label = "other"
    channel: Channel
    lat: Latitude | None = None
    lon: Longitude | None = None
    city: Label | None = None
    country: Country | None = None
    terminal_id: Id | None = None
    delivery_lat: Latitude | None = None
    delivery_lon: Longitude | None = None

    @field_validator("card_id", mode="before")  # before the id's charset: say why
    @classmethod
    def _no_clear_pan(cls, value: object) -> object:
        if isinstance(value, str) and _PAN.match(value.replace(" ", "").replace("-", "")):
            raise ValueError("card_id looks like a card number; send the card token, never the PAN")
        return value

    @classmethod
    def redact(cls, raw: bytes) -> bytes:
        """A card number (PAN) is never kept, not even in the DLQ (``mask_pans``)."""
        return mask_pans(raw)

    @model_validator(mode="after")
    def _located_when_present(self) -> Transaction:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together: give both or neither")
        if self.channel != "card_not_present" and self.lat is None:
            raise ValueError(f"a {self.channel} transaction needs lat/lon of where the card was")
        if (self.delivery_lat is None) != (self.delivery_lon is None):
            raise ValueError("delivery_lat and delivery_lon come together: give both or neither")
        if self.delivery_lat is not None and self.channel != "card_not_present":
            raise ValueError("only a card_not_present order has a delivery location")
        return self


class CustomerProfilePatch(BaseModel):
    """Customer-360 fields; every field optional so a change can carry a subset."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Text | None = None
    age: Annotated[int, Field(ge=0, le=130)] | None = None
    marital_status: Literal["single", "married", "divorced", "widowed", "partnered"] | None = None
    segment: Label | None = None
    home_city: Label | None = None
    credit_score: Annotated[int, Field(ge=300, le=850)] | None = None
    tenure_years: Annotated[float, Field(ge=0, le=150)] | None = None
    home_ownership: Literal["own_outright", "mortgage", "rent", "other"] | None = None
    cards: list[Id] | None = None
    flags: list[Id] | None = None
    usual_amount: Annotated[Decimal, Field(ge=0)] | None = None
    #: where the customer lives (schema 2): screening measures a payment's distance from it
    home_lat: Latitude | None = None
    home_lon: Longitude | None = None

    @model_validator(mode="after")
    def _home_together(self) -> CustomerProfilePatch:
        if (self.home_lat is None) != (self.home_lon is None):
            raise ValueError("home_lat and home_lon come together: give both or neither")
        return self


class CustomerChange(Event):
    """A change-data-capture record for one customer; ``version`` orders changes.

    Schema 2 adds the home location (``home_lat``, ``home_lon``); schema 1 records, which
    cannot carry it, are still read."""

    STREAM = Stream.CUSTOMER_CHANGES
    KEY_FIELD = "customer_id"
    SCHEMA_VERSION = 2
    READS = frozenset({1})

    schema_version: int = 2
    customer_id: Id
    version: Version
    op: Literal["upsert", "patch", "delete"]
    profile: CustomerProfilePatch | None = None
    changed_at: Instant = Field(default_factory=utcnow)

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
    version: Version
    op: Literal["upsert", "delete"] = "upsert"
    kb: Id = "general"
    title: LongText = ""
    body: LongText = ""
    tags: list[Id] = Field(default_factory=list)
    source: LongText | None = None
    updated_at: Instant = Field(default_factory=utcnow)

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
    asset_type: Label
    timestamp: Instant
    metrics: Annotated[dict[Label, Measure], Field(min_length=1)]
    units: dict[Label, Label] = Field(default_factory=dict)
    site: Label | None = None

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
    cities: list[Label] = Field(default_factory=list)
    sites: list[Label] = Field(default_factory=list)

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
    description: LongText = ""
    source: Label = "unknown"
    issued_at: Instant
    expires_at: Instant | None = None


class MaintenanceLog(Event):
    """A maintenance job done on an asset (its history, and what closes a work order)."""

    STREAM = Stream.MAINTENANCE_LOGS
    KEY_FIELD = "asset_id"

    log_id: Id
    asset_id: Id
    performed_at: Instant
    kind: Literal["inspection", "lubrication", "repair", "replacement", "calibration"]
    summary: Text
    parts: list[Id] = Field(default_factory=list)
    technician: Label | None = None
    work_order_id: Id | None = None


class FraudLabel(Event):
    """What became known about a payment after the fact: a chargeback, the customer's
    confirmation (fraud, or genuine), an analyst's or an investigation's finding.

    Labels arrive days after the payment; ``known_at`` is when this one became known (a
    model trained on the history may only use what was known by then). ``scenario`` is
    the kind of fraud when the source knows it (free text, kept as a label)."""

    STREAM = Stream.FRAUD_LABELS
    KEY_FIELD = "transaction_id"

    transaction_id: Id
    label: Literal["fraud", "genuine"]
    source: Literal["chargeback", "customer", "analyst", "investigation"]
    known_at: Instant
    scenario: Label | None = None
