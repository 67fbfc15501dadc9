"""The customer 360 in a real Redis: out-of-order and repeated CDC resolved by version."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ingestion import profiles
from ingestion.contracts import CustomerChange
from ingestion.contracts import CustomerProfilePatch as P
from ingestion.profiles import RedisProfileStore

T = datetime(2026, 11, 3, tzinfo=UTC)


def change(v: int, op: str, **fields: Any) -> CustomerChange:
    return CustomerChange(
        customer_id="cust-john",
        version=v,
        op=op,
        profile=P(**fields) if fields else None,
        changed_at=T,
    )


def store(redis_client: tuple[Any, str]) -> RedisProfileStore:
    client, prefix = redis_client
    return RedisProfileStore(client, prefix=prefix.rstrip(":"))


def test_upsert_then_patch(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John Carter", age=55, credit_score=795, cards=["c1"])])
    s.apply([change(2, "patch", credit_score=801)])
    p = s.get("cust-john")
    assert p is not None
    assert (p.name, p.age, p.credit_score, p.cards, p.version) == (
        "John Carter",
        55,
        801,
        ["c1"],
        2,
    )


def test_a_late_upsert_fills_in_around_a_newer_patch(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.apply([change(3, "patch", credit_score=700)])
    s.apply([change(2, "upsert", name="John Carter", credit_score=795, tenure_years=22)])
    p = s.get("cust-john")
    assert p is not None
    assert p.credit_score == 700  # the newer value stays
    assert (p.name, p.tenure_years, p.version) == ("John Carter", 22, 3)


def test_an_upsert_replaces_fields_it_does_not_carry(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John", flags=["vip"])])
    s.apply([change(2, "upsert", name="John Carter")])
    p = s.get("cust-john")
    assert p is not None
    assert p.flags is None
    assert p.name == "John Carter"


def test_re_delivery_is_a_no_op(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    first = s.apply([change(1, "upsert", name="John"), change(2, "patch", age=55)])
    again = s.apply([change(1, "upsert", name="John"), change(2, "patch", age=55)])
    assert first == [True, True]
    assert again == [False, False]


def test_delete_leaves_a_tombstone_that_stops_older_upserts(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John")])
    s.apply([change(5, "delete")])
    assert s.get("cust-john") is None
    assert s.apply([change(4, "upsert", name="Ghost")]) == [False]
    assert s.get("cust-john") is None
    s.apply([change(6, "upsert", name="John again")])
    p = s.get("cust-john")
    assert p is not None
    assert p.name == "John again"
    client, _ = redis_client
    assert client.ttl(s.key("cust-john")) == -1, "a live profile does not expire"


def test_unknown_customer_is_none(redis_client: tuple[Any, str]) -> None:
    assert store(redis_client).get("nobody") is None


def test_the_home_city_index_follows_moves_late_changes_and_deletes(
    redis_client: tuple[Any, str],
) -> None:
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John Carter", home_city="London")])
    assert s.customers_in("London") == ["cust-john"]
    s.apply([change(3, "patch", home_city="Paris")])  # he moves
    s.apply([change(2, "patch", home_city="Lyon")])  # an older change arrives late: ignored
    assert (s.customers_in("London"), s.customers_in("Lyon")) == ([], [])
    assert s.customers_in("Paris") == ["cust-john"]
    s.apply([change(4, "delete")])
    assert s.customers_in("Paris") == []


def test_a_batch_read_gets_some_fields_of_many_customers(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John", usual_amount=Decimal("40.00"), flags=["vip"])])
    s.apply([CustomerChange(customer_id="ann", version=1, op="upsert", profile=P(name="Ann"))])
    s.apply([CustomerChange(customer_id="gone", version=1, op="upsert", profile=P(name="G"))])
    s.apply([CustomerChange(customer_id="gone", version=2, op="delete")])
    read = s.fields("usual_amount", "flags").read(["cust-john", "ann", "gone", "nobody", "ann"])
    nothing = {"usual_amount": None, "flags": None}
    assert read == {
        "cust-john": {"usual_amount": "40.00", "flags": ["vip"]},  # as stored: JSON values
        "ann": nothing,
        "gone": nothing,
        "nobody": nothing,
    }
    assert s.fields("flags").read([]) == {}


def test_a_batch_read_parses_each_value_once_and_hands_out_fresh_lists(
    redis_client: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Screening reads the same amounts and flags batch after batch: their parse is kept,
    but what one caller does to a list it got never reaches the next read, and a later
    change of the profile is read as it is."""
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John", usual_amount=Decimal("40.00"), flags=["vip"])])
    fields = s.fields("usual_amount", "flags")
    first = fields.read(["cust-john"])["cust-john"]
    first["flags"].append("changed by a caller")
    again = fields.read(["cust-john"])["cust-john"]
    assert again == {"usual_amount": "40.00", "flags": ["vip"]}
    assert again["flags"] is not first["flags"]
    s.apply([change(2, "patch", flags=["vip", "fraud_watch"])])
    assert fields.read(["cust-john"])["cust-john"]["flags"] == ["vip", "fraud_watch"]
    monkeypatch.setattr(profiles, "PARSED_KEPT", 2)  # a bounded memory: it starts again
    for v in range(3, 7):
        s.apply([change(v, "patch", usual_amount=Decimal(v))])
        assert fields.read(["cust-john"])["cust-john"]["usual_amount"] == str(Decimal(v))
        assert len(fields._memo) <= 2


def test_another_batch_script_embeds_the_read(redis_client: tuple[Any, str]) -> None:
    """What screening does: the store's Lua function inside its own script, keys anywhere."""
    client, _ = redis_client
    s = store(redis_client)
    s.apply([change(1, "upsert", name="John", usual_amount=Decimal("12.5"))])
    fields = s.fields("usual_amount")
    script = client.register_script(
        fields.lua + "local out = {ARGV[1]}\nread_profiles(2, 2, out)\nreturn out\n"
    )
    replies = script(keys=["unrelated", *fields.keys(["cust-john", "nobody"])], args=["mine"])
    assert replies[0] == b"mine"
    assert fields.decode(replies, ["cust-john", "nobody"], at=1) == {
        "cust-john": {"usual_amount": "12.5"},
        "nobody": {"usual_amount": None},
    }


def test_a_batch_read_names_profile_fields_only(redis_client: tuple[Any, str]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        store(redis_client).fields("usual_amount", 'x", "y')
