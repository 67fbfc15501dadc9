"""Contracts: serde round trips and clear, well-named errors (no broker needed)."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.contracts import (
    CONTRACTS,
    CustomerChange,
    E,
    SensorReading,
    Transaction,
    decode,
    encode,
)
from ingestion.errors import ContractError
from tests.samples import samples
from vigil.settings import Stream


def test_every_stream_has_a_contract_with_a_sample() -> None:
    assert set(CONTRACTS) == set(Stream)
    assert set(samples()) == set(Stream)


@pytest.mark.parametrize("stream", list(Stream))
def test_round_trip(stream: Stream) -> None:
    event = samples()[stream]
    data = encode(event)
    back = decode(CONTRACTS[stream], data)
    assert back == event
    assert json.loads(data)["schema_version"] == event.SCHEMA_VERSION
    assert back.key == getattr(event, event.KEY_FIELD)


def tx(**changes: object) -> bytes:
    raw = json.loads(encode(samples()[Stream.TRANSACTIONS]))
    raw.update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    ("data", "kind", "needle"),
    [
        (b"{not json", "decode", "not valid JSON"),
        (b"[1, 2]", "decode", "expected a JSON object"),
        (tx(schema_version=3), "schema_version", "schema_version 3 is not readable"),
        (tx(amount="-5"), "validation", "amount"),
        (tx(currency="pounds"), "validation", "currency"),
        (tx(timestamp="2026-11-03T09:15:00"), "validation", "timezone"),
        (tx(lat=None, lon=None), "validation", "needs lat/lon"),
        (tx(lon=None), "validation", "lat and lon come together"),
        (tx(card_id="4111 1111 1111 1111"), "validation", "never the PAN"),
        (tx(channel="teleport"), "validation", "channel"),
    ],
)
def test_invalid_events_raise_contract_error_with_reason(
    data: bytes, kind: str, needle: str
) -> None:
    with pytest.raises(ContractError) as info:
        decode(Transaction, data)
    assert info.value.kind == kind
    assert needle in info.value.reason
    assert info.value.contract == "Transaction"


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(ContractError) as info:
        decode(Transaction, b'{"transaction_id": "t"}')
    for field in ("user_id", "card_id", "timestamp", "amount", "currency", "channel"):
        assert field in info.value.reason


def test_unknown_fields_are_tolerated_for_forward_compatibility() -> None:
    event = decode(Transaction, tx(new_field_from_a_newer_producer=1))
    assert event.transaction_id == "tx-1"


def test_card_not_present_needs_no_location() -> None:
    event = decode(Transaction, tx(channel="card_not_present", lat=None, lon=None))
    assert event.lat is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"op": "delete", "profile": {"name": "x"}}, "a delete carries no profile"),
        ({"op": "upsert", "profile": {"age": 3}}, "at least a name"),
        ({"op": "patch", "profile": {}}, "at least one profile field"),
        ({"op": "patch", "profile": {"credit_score": 900}}, "credit_score"),
    ],
)
def test_customer_change_ops_are_checked(change: dict[str, object], needle: str) -> None:
    raw = {"customer_id": "c1", "version": 1, **change}
    with pytest.raises(ContractError) as info:
        decode(CustomerChange, json.dumps(raw))
    assert needle in info.value.reason


def test_amount_survives_exactly() -> None:
    event = decode(Transaction, tx(amount="0.10"))
    assert str(event.amount) == "0.10"
    assert isinstance(event.timestamp, datetime)
    assert event.timestamp.utcoffset() is not None


def of(stream: Stream, **changes: object) -> bytes:
    raw = json.loads(encode(samples()[stream]))
    raw.update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    ("stream", "data", "needle"),
    [
        # ids reach file names, Redis keys and derived ids: a safe charset, room for a prefix
        (Stream.TRANSACTIONS, tx(transaction_id="x/../../../../../escape-L1"), "transaction_id"),
        (Stream.TRANSACTIONS, tx(transaction_id="tx\u001f1"), "transaction_id"),
        (Stream.TRANSACTIONS, tx(transaction_id="a..b"), "transaction_id"),
        (Stream.TRANSACTIONS, tx(transaction_id="t" * 97), "at most 96 characters"),
        (Stream.TRANSACTIONS, tx(city="Paris\u0000"), "city"),
        # an offset must not push a time out of what UTC can hold
        (Stream.TRANSACTIONS, tx(timestamp="0001-01-01T00:00:00+14:00"), "1970-01-01"),
        (Stream.TRANSACTIONS, tx(timestamp="9999-12-31T23:59:59-14:00"), "9999-01-01"),
        (
            Stream.SENSOR_READINGS,
            of(Stream.SENSOR_READINGS, metrics={"temp_c": 1.7e308}),
            "metrics",
        ),
        (
            Stream.MONITORING_SIGNALS,
            of(Stream.MONITORING_SIGNALS, signal_id="s" * 128),
            "signal_id",
        ),
        (Stream.KNOWLEDGE_DOCUMENTS, of(Stream.KNOWLEDGE_DOCUMENTS, version=2**63), "version"),
        (Stream.CUSTOMER_CHANGES, of(Stream.CUSTOMER_CHANGES, version=10**19), "version"),
    ],
)
def test_hostile_values_found_by_probing_are_refused_at_the_contract(
    stream: Stream, data: bytes, needle: str
) -> None:
    """Each was schema-valid and then failed a handler on every try (the partition stalled)
    or reached a file path."""
    with pytest.raises(ContractError) as info:
        decode(CONTRACTS[stream], data)
    assert info.value.kind == "validation"
    assert needle in info.value.reason


def test_derived_ids_stay_valid_and_stable() -> None:
    from ingestion.contracts import DERIVED_ID_MAX, ID_MAX, Alert, derived_id

    longest = "s" * ID_MAX
    alert_id = derived_id(longest, ":", "c" * ID_MAX)
    assert len(alert_id) == DERIVED_ID_MAX
    assert alert_id == derived_id(longest, ":", "c" * ID_MAX)  # a re-delivery: the same id
    assert alert_id != derived_id(longest, ":", "c" * (ID_MAX - 1) + "d")
    event_id = derived_id("alert-", alert_id)
    alert = Alert.model_validate(
        json.loads(encode(samples()[Stream.ALERTS])) | {"alert_id": alert_id, "event_id": event_id}
    )
    assert alert.alert_id == alert_id
    assert derived_id("appr-", "tx-1") == "appr-tx-1"  # short ones stay readable


SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:@+=-]*(\.[A-Za-z0-9_:@+=-]+)*")
HOSTILE_TEXT = st.one_of(
    st.text(),  # control characters, any code point
    st.text(alphabet="./\\\x00\x1f\x7f\u202e", max_size=40),  # separators, traversal
    st.text(min_size=90, max_size=200),  # around the length limits
    st.sampled_from(["..", "a/../b", "\ud800", "x" * 10_000, "  ", "a..b", "-x", ".x"]),
)


@settings(max_examples=300, deadline=None)
@given(tid=HOSTILE_TEXT, city=HOSTILE_TEXT, value=st.floats() | st.integers(-(2**70), 2**70))
def test_hostile_values_are_refused_or_arrive_safe(tid: str, city: str, value: float) -> None:
    """Whatever comes in an id, a name or a measure: a ContractError with its reason, or
    an event whose id is a safe key (no separator, no '..', room for a prefix), whose
    names carry no control character and whose values are finite and bounded."""
    # json.dumps escapes a lone surrogate as \\ud800: the bytes are what a producer sends
    event, reason = decoded(Transaction, tx(transaction_id=tid, city=city))
    if event is None:
        assert reason  # refused, saying why
    else:
        assert SAFE_ID.fullmatch(event.transaction_id)
        assert len(event.transaction_id) <= 96
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in event.city or "")
    reading, reason = decoded(SensorReading, of(Stream.SENSOR_READINGS, metrics={"t": value}))
    if reading is None:
        assert "metrics" in reason
    else:
        assert all(math.isfinite(v) and abs(v) <= 1e12 for v in reading.metrics.values())


def decoded(model: type[E], data: bytes) -> tuple[E | None, str]:
    """The event, or None and the contract's reason."""
    try:
        return decode(model, data), ""
    except ContractError as exc:
        return None, exc.reason


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.from_regex(SAFE_ID, fullmatch=True), min_size=1, max_size=4))
def test_derived_ids_of_any_parts_are_valid_ids(parts: list[str]) -> None:
    from ingestion.contracts import DERIVED_ID_MAX, derived_id

    got = derived_id("alert-", *parts)
    assert len(got) <= DERIVED_ID_MAX
    assert got == derived_id("alert-", *parts)
    assert SAFE_ID.fullmatch(got.replace("=", "-"))  # '=' joins the head and the digest


@settings(max_examples=200, deadline=None)
@given(event_id=HOSTILE_TEXT)
def test_a_lake_file_name_is_a_digest_whatever_the_id(event_id: str) -> None:
    from tools.lake import file_name

    name = file_name(event_id)
    assert re.fullmatch(r"[0-9a-f]{40}\.parquet", name)


def change(**profile: object) -> dict[str, object]:
    raw: dict[str, object] = json.loads(encode(samples()[Stream.CUSTOMER_CHANGES]))
    assert isinstance(raw["profile"], dict)
    raw["profile"] = {**raw["profile"], **profile}
    return raw


def test_customer_changes_of_schema_1_are_still_read_and_2_carries_the_home() -> None:
    old = change()
    old["schema_version"] = 1
    got = decode(CustomerChange, json.dumps(old).encode())
    assert got.schema_version == 1
    assert got.profile is not None
    assert got.profile.home_lat is None
    new = decode(CustomerChange, json.dumps(change(home_lat=51.5, home_lon=-0.12)).encode())
    assert new.schema_version == 2
    assert new.profile is not None
    assert (new.profile.home_lat, new.profile.home_lon) == (51.5, -0.12)
    future = {**change(), "schema_version": 3}
    event, reason = decoded(CustomerChange, json.dumps(future).encode())
    assert event is None
    assert "schema_version 3 is not readable here (this consumer reads 1, 2)" in reason
    half = change(home_lat=51.5)
    event, reason = decoded(CustomerChange, json.dumps(half).encode())
    assert event is None
    assert "home_lat and home_lon come together" in reason


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats() | st.integers(-(2**70), 2**70) | HOSTILE_TEXT,
    lon=st.floats() | st.integers(-(2**70), 2**70) | HOSTILE_TEXT,
)
def test_a_hostile_home_location_is_refused_or_on_the_globe(lat: object, lon: object) -> None:
    """NaN, infinities, huge integers, text with control characters or lone surrogates:
    a ContractError naming the field, or a point on the globe."""
    data = json.dumps(change(home_lat=lat, home_lon=lon)).encode()
    event, reason = decoded(CustomerChange, data)
    if event is None:  # NaN and lone surrogates make the JSON itself invalid
        assert "home_l" in reason or "not valid JSON" in reason, reason
    else:
        assert event.profile is not None
        assert event.profile.home_lat is not None
        assert event.profile.home_lon is not None
        assert -90 <= event.profile.home_lat <= 90
        assert -180 <= event.profile.home_lon <= 180


_SIGNAL_VALUES = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(st.characters(exclude_categories=()), max_size=20)
    | st.sampled_from(["\ud800", "a\udfff", "\x00\x1f\x7f\u2028", "../..\\x"])
    | st.booleans()
    | st.none()
)


@given(
    signals=st.dictionaries(st.text(max_size=12), _SIGNAL_VALUES, max_size=50),
    reasons=st.lists(st.text(st.characters(exclude_categories=()), max_size=30), max_size=4),
    risk=st.floats(min_value=0, max_value=1),
    when=st.datetimes(timezones=st.none() | st.timezones()),
    note=st.none() | st.text(max_size=40),
)
@settings(max_examples=300, deadline=None)
def test_a_decision_written_by_orjson_is_the_bytes_pydantic_writes(
    signals: dict[str, object], reasons: list[str], risk: float, when: datetime, note: str | None
) -> None:
    """A screening decision (``PLAIN_JSON``) is written by orjson, with pydantic's writer
    behind it for what orjson refuses: the bytes are pydantic's, whatever the values
    (NaN and infinities as null, integers past 64 bits, escapes, offsets, naive times),
    and what pydantic cannot write (a lone surrogate) fails alike."""
    from ingestion.contracts import FraudDecision, construct

    assert FraudDecision.PLAIN_JSON
    decision = construct(FraudDecision, {
        "schema_version": 1, "event_id": "screen-tx-1", "transaction_id": "tx-1",
        "user_id": "cust-1", "card_id": "card-1", "outcome": "allow", "risk_score": risk,
        "reasons": reasons, "signals": signals, "decided_by": "screening", "decided_at": when,
        "approval_id": None, "pending_action": None, "model_note": note,
    })  # fmt: skip
    try:
        expected = decision.__pydantic_serializer__.to_json(decision)
    except Exception as exc:  # noqa: BLE001 - whatever pydantic raises, encode raises too
        with pytest.raises(type(exc)):
            encode(decision)
        return
    assert encode(decision) == expected


CASE_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**70), 2**70) | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(HOSTILE_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(case=st.dictionaries(HOSTILE_TEXT, CASE_VALUES, max_size=6) | st.just({"x": "y" * 40_000}))
def test_an_approval_requests_case_is_bounded_and_written_back(case: dict[str, object]) -> None:
    """The analyst's case on ``approval.requests`` (any JSON from the agent): refused over
    its size with the reason, else read and written back as JSON."""
    from ingestion.contracts.outputs import CASE_MAX_BYTES, ApprovalRequest

    raw: dict[str, object] = json.loads(encode(samples()[Stream.APPROVAL_REQUESTS]))
    raw["case"] = case
    data = json.dumps(raw).encode()  # a lone surrogate goes as \\ud800, as a producer's would
    event, reason = decoded(ApprovalRequest, data)
    if event is None:  # a lone surrogate is refused as JSON, as in any event; the rest by case
        lone = re.search(r"\\u[dD][89a-fA-F]", data.decode())
        assert ("case" in reason) or (lone and "not valid JSON" in reason), reason
    else:
        assert event.case is not None
        assert len(json.dumps(event.case, default=str)) <= CASE_MAX_BYTES
        assert decoded(ApprovalRequest, encode(event))[0] is not None  # written back, read again
