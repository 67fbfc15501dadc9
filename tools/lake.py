"""The data lake: decisions and labels as Parquet, partitioned by date, shareable with analysts.

Card and customer identifiers never land in clear: they are pseudonymized with a keyed
hash (HMAC-SHA256 with ``VIGIL_LAKE_HASH_KEY``), stable across records so analysts can
still join and count, useless without the key. One file per decision, named by a digest of its
event id and written atomically: writing the same decision twice is a no-op. DuckDB, pandas
or Spark read the folder as a Hive-partitioned dataset.

Two more tables are written in batches by the archive (``agents.archive``): every
screening decision with its signals (``screenings``) and every label (``labels``), one
file per batch of a topic partition, named by a digest of where the batch was read; a
batch read again after a crash may be cut differently, so readers keep one row per
decision (``screenings()``, ``labels()`` do). Together they are the history the fraud
risk model trains on (``vigil fraud train --from-lake``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contracts import FraudDecision, FraudLabel

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("transaction_id", pa.string()),
        ("customer", pa.string()),
        ("card", pa.string()),
        ("outcome", pa.string()),
        ("risk_score", pa.float64()),
        ("reasons", pa.list_(pa.string())),
        ("decided_by", pa.string()),
        ("approval_id", pa.string()),
        ("signals", pa.string()),
        ("model_calls", pa.string()),
    ]
)


SCREENINGS = pa.schema(
    [
        ("event_id", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        #: when the payment was made (the decision's ``paid_at`` signal; else decided_at)
        ("paid_at", pa.timestamp("us", tz="UTC")),
        ("transaction_id", pa.string()),
        ("customer", pa.string()),
        ("card", pa.string()),
        ("outcome", pa.string()),
        ("risk_score", pa.float64()),
        ("signals", pa.string()),
    ]
)
LABELS = pa.schema(
    [
        ("event_id", pa.string()),
        ("transaction_id", pa.string()),
        ("label", pa.string()),
        ("source", pa.string()),
        ("known_at", pa.timestamp("us", tz="UTC")),
        ("scenario", pa.string()),
    ]
)
TABLES = {"screenings": SCREENINGS, "labels": LABELS}


def pseudonymize(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def file_name(event_id: str) -> str:
    """The decision's file: a digest of its event id, never the id itself. Ids come from
    events; one like ``x/../../escape`` must not choose where a file lands. The event id
    is a column of the file."""
    digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest[:40]}.parquet"


class ParquetLake:
    def __init__(self, root: Path, hash_key: str) -> None:
        if not hash_key:
            raise ValueError("the lake needs a hash key (VIGIL_LAKE_HASH_KEY)")
        self.root = root
        self.key = hash_key.encode()

    def folder(self, table: str, date: str) -> Path:
        return self.root / table / f"date={date}"

    def write_decision(
        self, decision: FraudDecision, *, model_calls: list[dict[str, Any]] | None = None
    ) -> tuple[Path, bool]:
        """(the file, True if written now; False if this decision was already there)."""
        at = decision.decided_at.astimezone(UTC)
        path = self.folder("decisions", at.date().isoformat()) / file_name(decision.event_id)
        if path.exists():
            return path, False
        row = {
            **self._decided(decision),
            "reasons": list(decision.reasons),
            "decided_by": decision.decided_by,
            "approval_id": decision.approval_id,
            "model_calls": json.dumps(model_calls or []),
        }
        return path, self._atomic(path, pa.Table.from_pylist([row], schema=SCHEMA))

    def write_batch(self, table: str, batch: str, rows: list[dict[str, Any]]) -> int:
        """Rows of ``table`` (screenings, labels), one file per date, named by a digest of
        ``batch`` (where the rows were read: topic, partition, offsets) and the date; a
        file already there is left as it is. Returns the files written now."""
        schema = TABLES[table]
        by_date: dict[str, list[dict[str, Any]]] = {}
        stamp = "paid_at" if table == "screenings" else "known_at"
        for row in rows:
            by_date.setdefault(row[stamp].astimezone(UTC).date().isoformat(), []).append(row)
        written = 0
        for date, part in sorted(by_date.items()):
            path = self.folder(table, date) / file_name(f"{batch}@{date}")
            if not path.exists():
                written += self._atomic(path, pa.Table.from_pylist(part, schema=schema))
        return written

    def screening_row(self, decision: FraudDecision) -> dict[str, Any]:
        paid = decision.signals.get("paid_at")
        try:
            paid_at = datetime.fromisoformat(paid) if isinstance(paid, str) else None
        except ValueError:
            paid_at = None
        if paid_at is None or paid_at.tzinfo is None:
            paid_at = decision.decided_at
        return {**self._decided(decision), "paid_at": paid_at.astimezone(UTC)}

    def _decided(self, decision: FraudDecision) -> dict[str, Any]:
        """The columns every decision table has (ids pseudonymized)."""
        return {
            "event_id": decision.event_id,
            "decided_at": decision.decided_at.astimezone(UTC),
            "transaction_id": decision.transaction_id,
            "customer": pseudonymize(decision.user_id, self.key),
            "card": pseudonymize(decision.card_id, self.key),
            "outcome": decision.outcome,
            "risk_score": decision.risk_score,
            "signals": json.dumps(decision.signals, sort_keys=True),
        }

    @staticmethod
    def label_row(label: FraudLabel) -> dict[str, Any]:
        return {
            "event_id": label.event_id,
            "transaction_id": label.transaction_id,
            "label": label.label,
            "source": label.source,
            "known_at": label.known_at.astimezone(UTC),
            "scenario": label.scenario,
        }

    def _atomic(self, path: Path, table: pa.Table) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a hidden name: dataset readers (pyarrow, Spark, DuckDB) skip it while it is written
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        pq.write_table(table, tmp)
        try:
            os.link(tmp, path)  # atomic, and fails if another writer got there first
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def table(self, name: str) -> pa.Table:
        """Everything in table ``name`` (decisions, screenings, labels) so far."""
        schema = SCHEMA if name == "decisions" else TABLES[name]
        folder = self.root / name
        if not folder.exists():
            return schema.empty_table()
        import pyarrow.dataset as ds

        return ds.dataset(folder, schema=schema, format="parquet", partitioning="hive").to_table()

    def screenings(self) -> list[dict[str, Any]]:
        """One row per screened payment (a batch archived twice counts once)."""
        rows = self.table("screenings").to_pylist()
        return list({r["transaction_id"]: r for r in rows}.values())

    def labels(self) -> list[dict[str, Any]]:
        """One row per label event, oldest known first (a later verdict on the same
        payment comes after the earlier one)."""
        rows = {r["event_id"]: r for r in self.table("labels").to_pylist()}
        return sorted(rows.values(), key=lambda r: (r["known_at"], r["event_id"]))

    def decisions(self) -> pa.Table:
        """Everything written so far, as one table (for tests and small exports)."""
        folder = self.root / "decisions"
        if not folder.exists():
            return SCHEMA.empty_table()
        import pyarrow.dataset as ds

        return ds.dataset(folder, format="parquet", partitioning="hive").to_table()
