"""The fraud contracts of schema 2: transactions with their terminal and delivery
location (schema 1 still read), and labels, under hostile values."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.contracts import FraudLabel, Transaction, encode
from tests.ingestion.test_contracts import HOSTILE_TEXT, decoded
from tests.samples import samples
from vigil.settings import Stream


def payment(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(encode(samples()[Stream.TRANSACTIONS]))
    return {**raw, **fields}


def online(**fields: Any) -> dict[str, Any]:
    return payment(channel="card_not_present", lat=None, lon=None, **fields)


def test_transactions_of_schema_1_are_still_read_and_2_carries_terminal_and_delivery() -> None:
    old, reason = decoded(Transaction, json.dumps(payment(schema_version=1)).encode())
    assert old is not None, reason
    assert old.schema_version == 1
    assert old.terminal_id is None
    assert old.delivery_lat is None
    new, reason = decoded(
        Transaction,
        json.dumps(
            online(terminal_id="web-shop-7", delivery_lat=48.85, delivery_lon=2.35)
        ).encode(),
    )
    assert new is not None, reason
    assert new.schema_version == 2
    assert (new.terminal_id, new.delivery_lat, new.delivery_lon) == ("web-shop-7", 48.85, 2.35)
    _, reason = decoded(Transaction, json.dumps(online(delivery_lat=48.85)).encode())
    assert "delivery_lat and delivery_lon come together" in reason
    _, reason = decoded(Transaction, json.dumps(payment(delivery_lat=1, delivery_lon=2)).encode())
    assert "only a card_not_present order has a delivery location" in reason
    _, reason = decoded(Transaction, json.dumps(payment(schema_version=3)).encode())
    assert "schema_version 3 is not readable here (this consumer reads 1, 2)" in reason


@settings(max_examples=150, deadline=None)
@given(
    terminal=HOSTILE_TEXT | st.text(alphabet="/\\.:", max_size=8) | st.just("x" * 10_000),
    lat=st.floats() | st.integers(-(2**70), 2**70),
    lon=st.floats() | st.integers(-(2**70), 2**70),
)
def test_a_hostile_terminal_or_delivery_is_refused_or_plain(
    terminal: str, lat: object, lon: object
) -> None:
    """A terminal id becomes a Redis key: only a plain id of bounded length gets through;
    a delivery location is on the globe or refused with the field named."""
    data = json.dumps(online(terminal_id=terminal, delivery_lat=lat, delivery_lon=lon)).encode()
    event, reason = decoded(Transaction, data)
    if event is None:
        assert any(k in reason for k in ("terminal_id", "delivery_l", "not valid JSON")), reason
        return
    assert event.terminal_id is not None
    assert event.terminal_id.isascii()
    assert len(event.terminal_id) <= 128
    assert "/" not in event.terminal_id
    assert "\\" not in event.terminal_id
    assert event.delivery_lat is not None
    assert -90 <= event.delivery_lat <= 90
    assert event.delivery_lon is not None
    assert -180 <= event.delivery_lon <= 180


def label(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(encode(samples()[Stream.FRAUD_LABELS]))
    return {**raw, **fields}


def test_a_label_says_what_it_is_and_when_it_became_known() -> None:
    ok, reason = decoded(FraudLabel, json.dumps(label()).encode())
    assert ok is not None, reason
    assert ok.key == "tx-2"
    for bad, needle in (
        ({"label": "maybe"}, "label"),
        ({"source": "rumour"}, "source"),
        ({"known_at": "yesterday"}, "known_at"),
        ({"transaction_id": "../../etc/passwd"}, "transaction_id"),
    ):
        event, reason = decoded(FraudLabel, json.dumps(label(**bad)).encode())
        assert event is None, bad
        assert needle in reason, (bad, reason)


@settings(max_examples=150, deadline=None)
@given(
    tx=HOSTILE_TEXT | st.just("t" * 100_000),
    scenario=st.none() | HOSTILE_TEXT,
    when=st.integers(-(2**64), 2**64) | st.floats() | HOSTILE_TEXT,
)
def test_hostile_labels_are_refused_with_a_reason_or_plain(
    tx: str, scenario: Any, when: Any
) -> None:
    event, reason = decoded(
        FraudLabel, json.dumps(label(transaction_id=tx, scenario=scenario, known_at=when)).encode()
    )
    if event is None:
        assert reason, "a refused label says why"
        return
    assert event.transaction_id.isascii()
    assert len(event.transaction_id) <= 128
    assert event.known_at.tzinfo is not None
