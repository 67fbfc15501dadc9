"""The data lake: every decision as Parquet, partitioned by date, shareable with analysts.

Card and customer identifiers never land in clear: they are pseudonymized with a keyed
hash (HMAC-SHA256 with ``VIGIL_LAKE_HASH_KEY``), stable across records so analysts can
still join and count, useless without the key. One file per decision, named by a digest of its
event id and written atomically: writing the same decision twice is a no-op. DuckDB, pandas
or Spark read the folder as a Hive-partitioned dataset.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contracts import FraudDecision

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
            "event_id": decision.event_id,
            "decided_at": at,
            "transaction_id": decision.transaction_id,
            "customer": pseudonymize(decision.user_id, self.key),
            "card": pseudonymize(decision.card_id, self.key),
            "outcome": decision.outcome,
            "risk_score": decision.risk_score,
            "reasons": list(decision.reasons),
            "decided_by": decision.decided_by,
            "approval_id": decision.approval_id,
            "signals": json.dumps(decision.signals, sort_keys=True),
            "model_calls": json.dumps(model_calls or []),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # a hidden name: dataset readers (pyarrow, Spark, DuckDB) skip it while it is written
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)
        try:
            os.link(tmp, path)  # atomic, and fails if another writer got there first
        except FileExistsError:
            return path, False
        finally:
            tmp.unlink(missing_ok=True)
        return path, True

    def decisions(self) -> pa.Table:
        """Everything written so far, as one table (for tests and small exports)."""
        folder = self.root / "decisions"
        if not folder.exists():
            return SCHEMA.empty_table()
        import pyarrow.dataset as ds

        return ds.dataset(folder, format="parquet", partitioning="hive").to_table()
