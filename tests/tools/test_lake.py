"""The data lake: Parquet by date, pseudonymized, idempotent, readable by DuckDB."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts import FraudDecision
from tools.lake import ParquetLake, pseudonymize

KEY = "test-only-key"


def decision(event_id: str, day: int = 3) -> FraudDecision:
    return FraudDecision(
        event_id=event_id,
        transaction_id=f"tx-{event_id}",
        user_id="cust-john",
        card_id="card-john-debit",
        outcome="block",
        risk_score=0.97,
        reasons=["impossible travel: 19,328 mph"],
        signals={"speed_mph": 19328.4},
        decided_by="analyst",
        decided_at=datetime(2026, 11, day, 9, 0, tzinfo=UTC),
        approval_id="appr-1",
    )


def test_decisions_land_partitioned_and_pseudonymized(tmp_path: Path) -> None:
    lake = ParquetLake(tmp_path, KEY)
    path, written = lake.write_decision(decision("d1"), model_calls=[{"model": "local"}])
    lake.write_decision(decision("d2", day=4))
    assert written
    assert path.parent.name == "date=2026-11-03"
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*.parquet"))
    assert b"cust-john" not in raw
    assert b"card-john-debit" not in raw
    table = lake.decisions().to_pylist()
    assert {r["customer"] for r in table} == {pseudonymize("cust-john", KEY.encode())}
    assert pseudonymize("cust-john", b"another key") != table[0]["customer"]


def test_writing_the_same_decision_twice_is_a_no_op(tmp_path: Path) -> None:
    lake = ParquetLake(tmp_path, KEY)
    lake.write_decision(decision("d1"))
    _, again = lake.write_decision(decision("d1"))
    assert not again
    assert lake.decisions().num_rows == 1


def test_duckdb_reads_the_lake_as_a_partitioned_dataset(tmp_path: Path) -> None:
    lake = ParquetLake(tmp_path, KEY)
    for i in range(3):
        lake.write_decision(decision(f"d{i}", day=3 + i % 2))
    files = f"{tmp_path}/decisions/*/*.parquet"
    rows = duckdb.execute(
        "SELECT date, count(*) AS n, max(risk_score) AS r FROM read_parquet(?, "
        "hive_partitioning = true) GROUP BY date ORDER BY date",
        [files],
    ).fetchall()
    assert [(str(d), n) for d, n, _ in rows] == [("2026-11-03", 2), ("2026-11-04", 1)]


def test_a_lake_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VIGIL_LAKE_HASH_KEY"):
        ParquetLake(tmp_path, "")


def test_a_reader_never_sees_a_file_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent reader once failed on a writer's half-written temp file."""
    lake = ParquetLake(tmp_path, KEY)
    lake.write_decision(decision("d1"))
    seen: list[int] = []
    real_link = os.link

    def link_while_reading(src: str, dst: str) -> None:
        # the temp file is complete but not yet published: a reader runs right now
        assert Path(src).name.startswith(".")
        seen.append(lake.decisions().num_rows)
        real_link(src, dst)

    monkeypatch.setattr("tools.lake.os.link", link_while_reading)
    lake.write_decision(decision("d2"))
    assert seen == [1]
    assert lake.decisions().num_rows == 2
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_an_event_id_never_chooses_where_a_file_lands(tmp_path: Path) -> None:
    """An id like ``x/../../escape`` (refused at the contract now, but the lake must not
    rely on that) wrote a file outside the lake's folder."""
    root = tmp_path / "lake"
    lake = ParquetLake(root, KEY)
    hostile = decision("d1").model_copy(update={"event_id": "x/../../../../../escape-L1"})
    path, written = lake.write_decision(hostile)
    assert written
    assert path.resolve().is_relative_to(root.resolve())
    assert [p.name for p in tmp_path.rglob("*.parquet")] == [path.name]
    assert lake.decisions().column("event_id").to_pylist() == ["x/../../../../../escape-L1"]
    assert lake.write_decision(hostile) == (path, False)  # still written once
