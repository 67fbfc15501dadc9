"""Dead letters: a record that could not be processed, kept with the reason why.

A dead letter on ``<topic>.dlq`` carries the *original* key and value bytes untouched
(so a fixed consumer can replay it as it was) and says what went wrong in headers. A value
too large for the broker to take back (a record near the topic's size limit, plus the
headers) goes there cut to ``VALUE_MAX`` bytes, with its original size in a header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

DeadLetterKind = Literal["decode", "validation", "schema_version", "processing", "empty"]
_KINDS: tuple[str, ...] = get_args(DeadLetterKind)

_PREFIX = "vigil.dlq."
#: the most of a record's value a dead letter carries (a broker's default record limit is
#: 1 MiB, and the letter adds headers to what came in)
VALUE_MAX = 512 * 1024
#: the most of a reason a header carries
REASON_MAX = 2000


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
    #: the value's size when it came in, if the letter carries only its head
    original_size: int | None = None

    @classmethod
    def fitted(cls, **fields: Any) -> DeadLetter:
        """A letter the broker will take: the value cut to VALUE_MAX (its size kept), the
        reason to REASON_MAX characters, lone surrogates in it escaped."""
        value: bytes | None = fields.pop("value")
        reason = str(fields.pop("reason"))
        reason = reason.encode("utf-8", "backslashreplace").decode()[:REASON_MAX]
        if value is not None and len(value) > VALUE_MAX:
            return cls(value=value[:VALUE_MAX], reason=reason, original_size=len(value), **fields)
        return cls(value=value, reason=reason, **fields)

    @classmethod
    def of_record(
        cls, record: Any, kind: DeadLetterKind, reason: str, *, group: str, value: Any = ...
    ) -> DeadLetter:
        """The letter for a consumed record (anything with topic, partition, offset, key
        and value), fitted; ``value`` replaces the record's."""
        return cls.fitted(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value if value is ... else value,
            kind=kind,
            reason=reason,
            group=group,
            failed_at=datetime.now(UTC),
        )

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
        if self.original_size is not None:
            fields["original_size"] = str(self.original_size)
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
            original_size=int(h["original_size"]) if "original_size" in h else None,
        )
