"""Dead letters: a record that could not be processed, kept with the reason why.

A dead letter on ``<topic>.dlq`` carries the *original* key and value bytes untouched
(so a fixed consumer can replay it as it was) and says what went wrong in headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

DeadLetterKind = Literal["decode", "validation", "schema_version", "processing", "empty"]
_KINDS: tuple[str, ...] = get_args(DeadLetterKind)

_PREFIX = "vigil.dlq."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    kind: DeadLetterKind
    reason: str
    group: str
    failed_at: datetime

    def headers(self) -> list[tuple[str, bytes]]:
        fields = {
            "source_topic": self.source_topic,
            "source_partition": str(self.partition),
            "source_offset": str(self.offset),
            "kind": self.kind,
            "reason": self.reason,
            "group": self.group,
            "failed_at": self.failed_at.isoformat(),
        }
        return [(_PREFIX + k, v.encode()) for k, v in fields.items()]

    @classmethod
    def from_record(cls, record: Any) -> DeadLetter:
        """Read a dead letter back from a consumed ``<topic>.dlq`` record."""
        h = {k.removeprefix(_PREFIX): v.decode() for k, v in (record.headers or [])}
        missing = {"source_topic", "kind", "reason"} - h.keys()
        if missing:
            raise ValueError(f"not a Vigil dead letter: headers {sorted(missing)} missing")
        kind = h["kind"]
        if kind not in _KINDS:
            raise ValueError(f"unknown dead-letter kind {kind!r}")
        return cls(
            source_topic=h["source_topic"],
            partition=int(h.get("source_partition", "-1")),
            offset=int(h.get("source_offset", "-1")),
            key=record.key,
            value=record.value,
            kind=kind,
            reason=h["reason"],
            group=h.get("group", ""),
            failed_at=datetime.fromisoformat(h["failed_at"])
            if "failed_at" in h
            else datetime.now(UTC),
        )
