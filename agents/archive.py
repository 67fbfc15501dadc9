"""The archive: screening decisions and fraud labels kept in the lake, for training.

Kafka keeps a topic for days; a risk model learns from months. The archive reads
``fraud.decisions`` (the screening decisions only: they carry every signal the model
reads) and ``fraud.labels`` in consumer groups of their own and writes each batch to the
lake (``tools.lake``) before committing it, so a crash reads the batch again and the
lake's readers keep one row per decision. ``vigil lake archive`` runs it (``--follow``
to keep going); ``vigil fraud train --from-lake`` trains on what it kept.

Invalid records are left to the groups that dead-letter them (the fraud agent's, for
labels) and counted here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.contracts import FraudDecision, FraudLabel
from ingestion.runner import ConsumerRunner, Received
from tools.lake import ParquetLake
from vigil.settings import Settings, Stream

log = logging.getLogger(__name__)


@dataclass
class Archived:
    screenings: int = 0
    labels: int = 0
    files: int = 0
    skipped_decisions: int = 0  # graph, analyst and policy decisions: not screenings


class LakeArchive:
    """Two consumers (decisions, labels) writing their batches to ``lake``."""

    def __init__(self, settings: Settings, lake: ParquetLake) -> None:
        self.s = settings
        self.lake = lake
        self.archived = Archived()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: the topic whose consumer died (``start()``), else None
        self.failed: str | None = None
        self.runners: list[ConsumerRunner[Any]] = [
            ConsumerRunner(
                settings, topic=settings.topic(Stream.FRAUD_DECISIONS), model=FraudDecision,
                handler=self._decisions, group=settings.group_id("archive.decisions"),
                dead_letters_invalid=False,
            ),
            ConsumerRunner(
                settings, topic=settings.topic(Stream.FRAUD_LABELS), model=FraudLabel,
                handler=self._labels, group=settings.group_id("archive.labels"),
                dead_letters_invalid=False,
            ),
        ]  # fmt: skip

    @staticmethod
    def _batch(got: Sequence[Received[Any]]) -> str:
        first = got[0]
        return f"{first.topic}:{first.partition}:{first.offset}:{got[-1].offset}"

    def _write(self, table: str, got: Sequence[Received[Any]],
               row: Callable[[Any], dict[str, Any] | None]) -> int:  # fmt: skip
        """Each partition's records of the batch as one batch of ``table`` (``row``: a
        record's row, None to leave it out); returns the rows written."""
        by_partition: dict[int, list[Received[Any]]] = {}
        for r in got:
            by_partition.setdefault(r.partition, []).append(r)
        kept = 0
        for part in by_partition.values():
            rows = [x for x in (row(r.event) for r in part) if x is not None]
            files = self.lake.write_batch(table, self._batch(part), rows) if rows else 0
            kept += len(rows)
            with self._lock:
                self.archived.files += files
        return kept

    def _decisions(self, got: Sequence[Received[FraudDecision]]) -> None:
        def screening(d: FraudDecision) -> dict[str, Any] | None:
            return self.lake.screening_row(d) if d.decided_by == "screening" else None

        kept = self._write("screenings", got, screening)
        with self._lock:
            self.archived.screenings += kept
            self.archived.skipped_decisions += len(got) - kept

    def _labels(self, got: Sequence[Received[FraudLabel]]) -> None:
        kept = self._write("labels", got, self.lake.label_row)
        with self._lock:
            self.archived.labels += kept

    def drain(self, timeout: float = 300.0) -> Archived:
        """Archive everything published so far (each group caught up with its topic's end
        as it was when the group was assigned), then return."""
        deadline = time.monotonic() + timeout
        for runner in self.runners:
            while not self._caught_up(runner):
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"the archive did not catch up with {runner.topic} in {timeout:g} s "
                        f"(lag {runner.metrics.total_lag})"
                    )
                runner.run(timeout=1.0)
        return self.archived

    @staticmethod
    def _caught_up(runner: ConsumerRunner[Any]) -> bool:
        assigned = runner.assignment()
        lag = runner.metrics.lag
        return bool(assigned) and set(lag) >= assigned and runner.metrics.total_lag == 0

    def start(self) -> None:
        """Archive in the background until ``stop()`` (``alive()`` says if both still run)."""
        self._threads = [
            threading.Thread(target=self._run, args=(r,), daemon=True, name=f"archive-{r.topic}")
            for r in self.runners
        ]
        for t in self._threads:
            t.start()

    def _run(self, runner: ConsumerRunner[Any]) -> None:
        try:
            runner.run()
        except Exception:  # a dead consumer: alive() turns False and the command says so
            log.exception("the archive's consumer of %s died", runner.topic)
            self.failed = runner.topic

    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def join(self, timeout: float = 30.0) -> None:
        for t in self._threads:
            t.join(timeout)

    def stop(self) -> None:
        for r in self.runners:
            r.stop()

    def close(self) -> None:
        for r in self.runners:
            r.close()
