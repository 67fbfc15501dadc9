"""Contracts: serde round trips and clear, well-named errors (no broker needed)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ingestion.contracts import CONTRACTS, CustomerChange, Transaction, decode, encode
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
    assert json.loads(data)["schema_version"] == 1
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
        (tx(schema_version=2), "schema_version", "schema_version 2 is not readable"),
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
