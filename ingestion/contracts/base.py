"""What every event contract shares: field types, the ``Event`` base, JSON serde."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError, to_jsonable_python

from ingestion.errors import ContractError
from vigil.settings import Stream

#: ids from outside become Redis keys, file names and derived ids ("appr-<id>",
#: "final-<id>", "wo-event-<id>"): a safe charset, no "..", and room for a prefix
ID_MAX = 96
DERIVED_ID_MAX = 128
#: letters, digits and _ : @ + = -, dots between them but never two together, starting
#: with a letter or digit (checked in pydantic's core, not in Python: decoding is the
#: runner's hot path)
_ID = r"^[A-Za-z0-9][A-Za-z0-9_:@+=-]*(?:\.[A-Za-z0-9_:@+=-]+)*$"
#: no C0 or C1 control character (texts may hold tabs and newlines); pydantic's JSON
#: parser already refuses lone surrogates
_LABEL = r"^[^\x00-\x1f\x7f-\x9f]*$"
_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"


def derived_id(*parts: str) -> str:
    """An id made of others ("alert-" + a signal + ":" + a customer): the parts joined when
    that fits DERIVED_ID_MAX, else its head and a digest of the whole. Stable, so that a
    re-delivery derives the same id and effects keyed by it stay once."""
    joined = "".join(parts)
    if len(joined) <= DERIVED_ID_MAX:
        return joined
    digest = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{joined[: DERIVED_ID_MAX - len(digest) - 1]}={digest}"


#: an id sent to Vigil
Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ID_MAX, pattern=_ID)
]
#: an id Vigil derives from one (its own outputs)
DerivedId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=DERIVED_ID_MAX, pattern=_ID),
]
#: a short name that is not an id (a city, a segment, a technician): any printable text
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=_LABEL)
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_TEXT)
]
#: a text that may be empty (a document's body)
LongText = Annotated[str, StringConstraints(max_length=1_000_000, pattern=_TEXT)]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


#: a moment with its offset, in a range every consumer can convert to UTC
# compared as instants (in pydantic's core), so that an offset cannot push it past
# year 1 or 9999
Instant = Annotated[AwareDatetime, Field(ge=EARLIEST, le=LATEST)]
#: a version or sequence number a JSON reader of any language keeps exactly
Version = Annotated[int, Field(ge=1, le=2**53)]
#: a measured value: finite, and far from where sums and squares overflow
Measure = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
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

    #: the version this code writes; ``READS`` the earlier ones it still reads
    SCHEMA_VERSION: ClassVar[int] = 1
    READS: ClassVar[frozenset[int]] = frozenset()
    KEY_FIELD: ClassVar[str]
    STREAM: ClassVar[Stream]
    #: every field's value is one orjson writes byte for byte as pydantic does (text,
    #: numbers, booleans, None, datetimes, and lists and dicts of them, no serializer of
    #: its own): ``encode`` writes it with orjson (a test holds the two to the same bytes)
    PLAIN_JSON: ClassVar[bool] = False

    schema_version: int = 1
    event_id: DerivedId = Field(default_factory=new_id)

    @field_validator("schema_version")
    @classmethod
    def _readable_version(cls, value: int) -> int:
        if value != cls.SCHEMA_VERSION and value not in cls.READS:
            want = ", ".join(map(str, sorted(cls.READS | {cls.SCHEMA_VERSION})))
            raise PydanticCustomError(
                "schema_version",
                "schema_version {got} is not readable here (this consumer reads {want})",
                {"got": value, "want": want},
            )
        return value

    @classmethod
    def redact(cls, raw: bytes) -> bytes:
        """What a dead letter of this contract may keep of a refused record's bytes
        (all of it, unless a contract holds what must never be stored)."""
        return raw

    @property
    def key(self) -> str:
        """The Kafka key: the entity whose events must stay in order."""
        value: str = getattr(self, self.KEY_FIELD)
        return value


E = TypeVar("E", bound=Event)


_set = object.__setattr__


def construct(model: type[E], values: dict[str, Any]) -> E:
    """``model.model_construct(**values)`` for trusted values that name every field, in a
    fifth of its time (it looks up each field's default: 10 us a screening decision,
    the hot path). Nothing is validated; a missing field raises."""
    if len(values) != len(model.__pydantic_fields__):
        missing = set(model.__pydantic_fields__) - set(values)
        raise TypeError(f"{model.__name__} constructed without {sorted(missing)}")
    event = model.__new__(model)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", set(values))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def _instant(value: Any) -> Any:
    """A datetime as pydantic writes it (orjson's own rounds an offset with seconds);
    any other value orjson cannot write is refused (``encode`` asks pydantic)."""
    if type(value) is datetime:
        return to_jsonable_python(value)
    raise TypeError(f"not written by orjson: {type(value).__name__}")


def encode(event: Event) -> bytes:
    """JSON bytes of an event (decimals as strings, datetimes as ISO 8601).

    A ``PLAIN_JSON`` event is written by orjson from its fields: the same bytes, in a
    fraction of the time for a screening decision's forty signals (one decision per
    payment). A value orjson refuses (an integer over 64 bits, a numpy number, a lone
    surrogate) sends it to pydantic's serializer, which writes it or says why not."""
    if event.PLAIN_JSON:
        try:
            return orjson.dumps(
                event.__dict__, default=_instant, option=orjson.OPT_PASSTHROUGH_DATETIME
            )
        except TypeError:
            pass
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
