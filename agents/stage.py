"""The escalation stage: escalated events leave the screening loop for a topic of their own.

Screening publishes a record per escalation (with the batch's decisions, acknowledged
before the input's offsets are committed) and moves on; the agent's stage group reads
that topic and runs the graphs, a bounded number at once. A slow, hanging or absent
model then holds up escalations only, never the events behind them; the stage scales,
fails over and dead-letters like every other consumer group, and its lag is the
escalation backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic

from graphs.protocols import S
from ingestion.contracts import Event
from ingestion.runner import Received
from ingestion.transient import is_transient
from vigil.settings import Stream

if TYPE_CHECKING:
    from agents.core import Escalation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage(Generic[S]):
    """Where an agent's escalations wait, and how they go there and come back."""

    #: the contract of the records handed off (they go to its stream)
    model: type[Event]
    #: the record handed to the stage for an escalation
    record: Callable[[Escalation[S]], Event]
    #: the escalation a (validated) record stands for
    restore: Callable[[Any], Escalation[S]]

    @property
    def stream(self) -> Stream:
        return self.model.STREAM


class StageRunner(Generic[S]):
    """Runs a batch of escalations, at most ``concurrency`` at once, one per subject."""

    def __init__(
        self,
        stage: Stage[S],
        run: Callable[[Escalation[S]], object],
        concurrency: int,
        name: str,
    ) -> None:
        self.stage = stage
        self.run = run
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"{name}-escalation")
        self._lock = threading.Lock()
        #: escalations running now, and since when (monotonic), for the oldest's age
        self.running: dict[str, float] = {}

    def handle(self, batch: Sequence[Received[Any]]) -> None:
        """Every escalation of the batch to its end (or its wait for an answer). When any
        failed, the batch fails: a dependency down first (the runner waits for it), else
        the first error (the runner looks for the record that fails); those that finished
        are idempotent on the retry (their threads say they are done)."""
        subjects: dict[str, Escalation[S]] = {}
        for rec in batch:
            esc = self.stage.restore(rec.event)
            subjects.setdefault(esc.subject, esc)  # a re-sent duplicate runs once
        futures = [self._pool.submit(self._one, esc) for esc in subjects.values()]
        wait(futures)
        errors = [e for f in futures if (e := _error(f)) is not None]
        if errors:
            raise next((e for e in errors if is_transient(e)), errors[0])

    def _one(self, esc: Escalation[S]) -> object:
        with self._lock:
            self.running[esc.subject] = time.monotonic()
        try:
            return self.run(esc)
        finally:
            with self._lock:
                self.running.pop(esc.subject, None)

    def longest_running_s(self) -> float:
        with self._lock:
            started = min(self.running.values(), default=None)
        return 0.0 if started is None else time.monotonic() - started

    def close(self) -> None:
        """Without waiting: a graph stuck on a model ends by the gateway's timeout; its
        record is not committed, so whichever member owns it next runs it again."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _error(future: Future[object]) -> BaseException | None:
    exc = future.exception()
    if exc is not None and not isinstance(exc, Exception):
        raise exc  # KeyboardInterrupt, SystemExit: not ours to turn into a retry
    return exc
