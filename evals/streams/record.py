"""Recording: a slice of live topics, in the golden stream format."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from evals.streams.format import GoldenStream, StreamRecord
from ingestion.kafka import read_topic
from vigil.settings import Settings, Stream


def record_topics(
    settings: Settings, streams: Iterable[Stream], name: str, *, timeout: float = 30.0
) -> GoldenStream:
    """A slice of live topics as a stream file's records (labels are added by hand)."""
    records: list[StreamRecord] = []
    for stream in streams:
        for rec in read_topic(settings, settings.topic(stream), timeout=timeout):
            key = rec.key.decode() if rec.key else None
            try:
                records.append(StreamRecord(stream, key, json.loads(rec.value)))
            except (ValueError, TypeError):
                records.append(StreamRecord(stream, key, raw=rec.value.decode(errors="replace")))
    return GoldenStream(name, records, description=f"recorded {datetime.now(UTC):%Y-%m-%d}")
