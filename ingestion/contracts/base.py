"""What every event contract shares: field types, the ``Event`` base, JSON serde."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
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
