"""Golden cases: what the YAML files under ``evals/data/cases/`` may say, validated on load.

A chat case is a conversation (one user message per turn) by a signed-in customer and
what must be true of the last turn. An event case is a short sequence of events for one
agent, the analyst's answer to any proposal, and the decision and tool trajectory that
must follow. Every file carries a ``version``; a case file this code cannot read is
refused with the file and the field that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ingestion.contracts import (
    CustomerChange,
    CustomerProfilePatch,
    MaintenanceLog,
    MonitoringSignal,
    Region,
    Transaction,
)

CASES_VERSION = 1
#: every case's events start here (times in a case are seconds after it)
EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

Suite = Literal["chat", "events"]
Match = Literal["strict", "unordered", "subset", "superset"]
Phrase = str | list[str]  # a list: any one of these alternatives


class EvalCaseError(ValueError):
    """A case file that cannot be read: names the file, the case and what is wrong."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tools(Strict):
    """The tool trajectory: which tools, compared how (after agentevals' match modes)."""

    match: Match = "unordered"
    calls: list[str]
    #: never called, whatever the match mode
    forbidden: list[str] = Field(default_factory=list)


# -- customers ------------------------------------------------------------------------------


class Customer(Strict):
    customer_id: str
    profile: CustomerProfilePatch

    def change(self) -> CustomerChange:
        return CustomerChange(
            event_id=f"eval-profile-{self.customer_id}",
            customer_id=self.customer_id,
            version=1,
            op="upsert",
            profile=self.profile,
            changed_at=EPOCH - timedelta(days=1),
        )


def load_customers(path: Path | None = None) -> list[Customer]:
    """The eval world's customers (``evals/data/cases/customers.yaml``)."""
    raw = _read(path or _cases_dir() / "customers.yaml")
    try:
        return [Customer.model_validate(c) for c in raw["customers"]]
    except ValidationError as exc:
        raise EvalCaseError(f"customers.yaml: {_why(exc)}") from exc
    except (KeyError, TypeError) as exc:
        raise EvalCaseError(f"customers.yaml: {exc}") from exc


# -- chat -----------------------------------------------------------------------------------


class ChatExpect(Strict):
    tools: Tools = Tools(calls=["customer_lookup", "search_knowledge"])
    #: doc ids that must be among the passages retrieved (recall@k)
    retrieved: list[str] = Field(default_factory=list)
    #: facts that must be in what the model is given (profile and passages)
    context_includes: list[Phrase] = Field(default_factory=list)
    #: facts that must never be in what the model is given
    context_excludes: list[str] = Field(default_factory=list)
    #: model-dependent: phrases the answer must contain / must not contain
    answer_includes: list[Phrase] = Field(default_factory=list)
    answer_excludes: list[str] = Field(default_factory=list)
    #: model-dependent: doc ids the answer must cite by number
    cites: list[str] = Field(default_factory=list)


class ChatCase(Strict):
    id: str
    category: Literal["policy", "customer_context", "multi_turn", "out_of_scope", "injection"]
    #: the signed-in customer (the id comes from authentication, never from the message)
    customer: str | None
    turns: Annotated[list[str], Field(min_length=1)]
    expect: ChatExpect = ChatExpect()
    notes: str = ""


# -- events ---------------------------------------------------------------------------------

#: named places, so cases read like the stories they tell
PLACES: dict[str, tuple[float, float, str, str]] = {
    "london-kings-cross": (51.5308, -0.1238, "London", "GB"),
    "london-soho": (51.5136, -0.1365, "London", "GB"),
    "paris-marais": (48.8566, 2.3522, "Paris", "FR"),
    "manchester": (53.4808, -2.2426, "Manchester", "GB"),
    "edinburgh": (55.9533, -3.1883, "Edinburgh", "GB"),
    "dublin": (53.3498, -6.2603, "Dublin", "IE"),
    "new-york": (40.7128, -74.0060, "New York", "US"),
    "tokyo": (35.6762, 139.6503, "Tokyo", "JP"),
    "auckland": (-36.8485, 174.7633, "Auckland", "NZ"),
    "fiji-suva": (-18.1416, 178.4419, "Suva", "FJ"),
    "samoa-apia": (-13.8333, -171.7500, "Apia", "WS"),
    "berlin": (52.5200, 13.4050, "Berlin", "DE"),
    "lyon": (45.7640, 4.8357, "Lyon", "FR"),
}


class Tx(Strict):
    """A card transaction, in a case's shorthand."""

    id: str
    user: str
    card: str
    at: float  # seconds after the case's start
    channel: Literal["card_present", "card_not_present", "atm"] = "card_present"
    amount: Decimal = Decimal("25.00")
    currency: str = "GBP"
    merchant: str = "Corner Shop"
    category: str = "groceries"
    place: str | None = None  # a key of PLACES (card-present and ATM need one)

    @model_validator(mode="after")
    def _known_place(self) -> Tx:
        if self.place is not None and self.place not in PLACES:
            raise ValueError(f"unknown place {self.place!r}; one of {sorted(PLACES)}")
        return self

    def event(self) -> Transaction:
        lat = lon = None
        city = country = None
        if self.place is not None:
            lat, lon, city, country = PLACES[self.place]
        return Transaction(
            event_id=f"evt-{self.id}",
            transaction_id=self.id,
            user_id=self.user,
            card_id=self.card,
            timestamp=EPOCH + timedelta(seconds=self.at),
            amount=self.amount,
            currency=self.currency,
            merchant=self.merchant,
            merchant_category=self.category,
            channel=self.channel,
            lat=lat,
            lon=lon,
            city=city,
            country=country,
        )


class Raw(Strict):
    """Bytes as they might arrive on the topic: a malformed event must be dead-lettered."""

    id: str
    value: str


class Signal(Strict):
    id: str
    category: Literal["weather", "market", "geopolitical", "infrastructure"] = "weather"
    severity: Literal["info", "minor", "moderate", "severe", "extreme"]
    region: str
    cities: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    headline: str
    at: float = 0
    #: the feed re-sends: same signal id, another event id
    copy_of: str | None = None

    def event(self) -> MonitoringSignal:
        issued = EPOCH + timedelta(seconds=self.at)
        return MonitoringSignal(
            event_id=f"evt-{self.id}",
            signal_id=self.copy_of or self.id,
            category=self.category,
            severity=self.severity,
            region=Region(name=self.region, cities=self.cities, sites=self.sites),
            headline=self.headline,
            source="eval-feed",
            issued_at=issued,
            expires_at=issued + timedelta(hours=12),
        )


class AssetRun(Strict):
    """Readings of every simulated asset every 15 minutes (the simulator's seeded physics):
    the ``degrading`` pump's bearing wears from hour 12 and fails at hour 60."""

    hours: float = 72.0
    seed: int = 7
    degrading: str | None = "pump-03"
    #: keep only these assets' readings (default all)
    assets: list[str] = Field(default_factory=list)
    #: maintenance logs of every asset first (the history the drafts read)
    history: bool = True


class EventItem(Strict):
    tx: Tx | None = None
    raw: Raw | None = None
    signal: Signal | None = None
    log: dict[str, Any] | None = None
    asset_run: AssetRun | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EventItem:
        given = [k for k in ("tx", "raw", "signal", "log", "asset_run") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"an event item is one of tx, raw, signal, log, asset_run: {given}")
        return self

    def maintenance_log(self) -> MaintenanceLog:
        assert self.log is not None
        data = dict(self.log)
        data.setdefault("event_id", f"evt-{data.get('log_id')}")
        at = data.pop("at", 0)
        data.setdefault("performed_at", (EPOCH + timedelta(seconds=float(at))).isoformat())
        return MaintenanceLog.model_validate(data)


Decision = Literal["allow", "hold", "block", "dlq", "none", "work_order", "stop_asset", "alert"]


class EventExpect(Strict):
    #: the case's decision: the most severe outcome over its events
    decision: Decision
    #: the graph's final outcome word for the decided subject, e.g. "blocked"
    outcome: str | None = None
    #: screening outcomes of named events (others are not checked)
    screening: dict[str, Literal["allow", "escalate"]] = Field(default_factory=dict)
    #: how many events escalated to the graph
    escalated: int | None = None
    tools: Tools | None = None
    #: maintenance: the work order's asset, least priority
    asset: str | None = None
    priority_at_least: Literal["low", "medium", "high", "urgent"] | None = None
    #: monitoring: who is alerted (customer ids, and "operations")
    recipients: list[str] | None = None
    #: events published, by contract name, exactly this many (e.g. ``BlockAction: 1``)
    outputs: dict[str, int] = Field(default_factory=dict)
    #: malformed events dead-lettered
    dead_letters: int | None = None
    #: every output's text must leave these out (e.g. a PIN request)
    outputs_exclude: list[str] = Field(default_factory=list)


class EventCase(Strict):
    id: str
    agent: Literal["fraud", "maintenance", "monitoring"]
    category: str
    events: Annotated[list[EventItem], Field(min_length=1)]
    #: how the analyst answers a proposal: approve, reject, or never (the deadline passes)
    analyst: Literal["approve", "reject", "never"] = "approve"
    #: settings for this case (e.g. maintenance_stop_rul_h), applied over the eval's own
    settings: dict[str, Any] = Field(default_factory=dict)
    expect: EventExpect
    notes: str = ""


# -- loading --------------------------------------------------------------------------------


def _cases_dir() -> Path:
    return Path(str(resources.files("evals") / "data" / "cases"))


def _read(path: Path) -> Any:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EvalCaseError(f"{path.name}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise EvalCaseError(f"{path.name}: expected a mapping at the top")
    return data


def _load(files: Iterable[Path], model: type[Any], suite: Suite) -> list[Any]:
    out: list[Any] = []
    seen: dict[str, str] = {}
    for path in sorted(files):
        data = _read(path)
        if data.get("version") != CASES_VERSION:
            raise EvalCaseError(
                f"{path.name}: version {data.get('version')!r} is not readable here "
                f"(this runner reads version {CASES_VERSION})"
            )
        if data.get("suite") != suite:
            raise EvalCaseError(f"{path.name}: suite must be {suite!r}")
        for i, raw in enumerate(data.get("cases") or []):
            try:
                case = model.model_validate(raw)
            except ValidationError as exc:
                name = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
                raise EvalCaseError(f"{path.name}: case {name}: {_why(exc)}") from exc
            if case.id in seen:
                raise EvalCaseError(f"{path.name}: case id {case.id} is also in {seen[case.id]}")
            seen[case.id] = path.name
            out.append(case)
    return out


def _why(exc: ValidationError) -> str:
    """Each problem as ``where: what``, without pydantic's input dumps and links."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors(include_url=False, include_input=False)
    )


def load_chat_cases(folder: Path | None = None) -> list[ChatCase]:
    root = folder or _cases_dir() / "chat"
    cases: list[ChatCase] = _load(root.glob("*.yaml"), ChatCase, "chat")
    return cases


def load_event_cases(folder: Path | None = None) -> list[EventCase]:
    root = folder or _cases_dir() / "events"
    cases: list[EventCase] = _load(root.glob("*.yaml"), EventCase, "events")
    return cases
