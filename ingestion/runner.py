"""The consumer runner: poll a batch, decode and validate, hand it over, commit.

The order inside one batch is what makes "no event lost" hold:

1. decode + validate every record; the invalid ones go to ``<topic>.dlq`` with
   the reason and the original bytes, and the broker's ack is awaited;
2. the valid events go to the handler; when it returns, their outcome is durable
   (that is the handler's contract). It may hand back rejections, which are
   dead-lettered like invalid records;
3. only then are the offsets committed, without waiting for the broker's answer (the
   next batch goes on meanwhile; ``run`` waits for the last answers before it returns).

A crash anywhere before step 3 re-delivers the batch (at-least-once), so handlers make
their side effects idempotent; a batch that fails outside the handler (the broker down at
the DLQ or the commit) is read again from the last commit (``run``). A handler that
raises is retried with backoff on the same batch, never moving past an unfinished event:

- a dependency that is down (a connection or timeout error from Redis, the broker or
  the network, or a ``TransientError``) is waited for, however long it takes: no event
  is dead-lettered because Redis restarted;
- any other error is a poison suspect: after ``runner_handler_attempts`` tries of the
  batch, the batch is split in halves (each handled in order) until the records that
  fail alone are found; each of those goes to the DLQ with the error after its own
  ``runner_handler_attempts`` tries, and the rest of the batch and the partition go on.

The handler runs on a thread of its own (in a ``vigil.consume`` span when tracing is on)
while the polling thread keeps the consumer in its group: a handler that takes longer than
``max_poll_interval_ms`` would otherwise get its member dropped, its partitions handed to
another member and its commit refused. Meanwhile the owned partitions are paused, so
nothing new is fetched (``GroupMember.keep_membership``).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, NamedTuple

from kafka.errors import KafkaError

from ingestion import tracing
from ingestion.contracts import E, decode
from ingestion.dlq import DeadLetter, DeadLetterKind
from ingestion.errors import ContractError
from ingestion.kafka import consumer_config
from ingestion.member import GroupMember
from ingestion.producer import EventProducer
from ingestion.runner_metrics import RunnerMetrics as RunnerMetrics
from ingestion.signals import on_stop_signals
from ingestion.transient import describe as _describe
from ingestion.transient import is_transient
from vigil.settings import Settings

log = logging.getLogger(__name__)


class Received(NamedTuple, Generic[E]):
    """A valid event with where it came from (a tuple: made once per record on the hot
    path, where a frozen dataclass's ``__init__`` cost four times as much)."""

    event: E
    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """A handler's verdict that an event can never be processed (goes to the DLQ)."""

    received: Received[Any]
    reason: str


class _AbandonedError(Exception):
    """The runner was closed while its handler worked: the batch stays uncommitted."""


Handler = Callable[[Sequence[Received[E]]], Iterable[Rejection] | None]


class ConsumerRunner(Generic[E]):
    """Runs one consumer-group member over one topic of one contract."""

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str,
        model: type[E],
        handler: Handler[E],
        group: str,
        producer: EventProducer | None = None,
        batch_size: int | None = None,
        dead_letters_invalid: bool = True,
        **consumer_overrides: Any,
    ) -> None:
        """``dead_letters_invalid=False``: another group that reads the same topic
        dead-letters its invalid records (once is enough); this one counts and skips them
        (``left_invalid``)."""
        self.settings = settings
        self.dead_letters_invalid = dead_letters_invalid
        self.topic = topic
        self.model = model
        self.handler = handler
        self.group = group
        self.dlq_topic = settings.dlq_topic(topic)
        self.batch_size = batch_size or settings.runner_batch_size
        self.metrics = RunnerMetrics()
        self._stop = threading.Event()
        self._own_producer = producer is None
        self._producer = producer or EventProducer(settings)
        config: dict[str, Any] = {
            **consumer_config(settings),
            "group_id": group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": settings.kafka_session_timeout_ms,
            "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
            "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
            "max_poll_records": self.batch_size,
            "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        }
        config.update(consumer_overrides)
        self._member = GroupMember(config, topic, self.metrics, settings.kafka_request_timeout_ms)
        #: why the last batch failed outside the handler, while it is being retried
        self.crashed: str | None = None
        self._calls = ThreadPoolExecutor(1, thread_name_prefix=f"handler-{topic}")
        self._closed = threading.Event()
        #: how often the polling thread answers the group while the handler works
        self._keepalive_s = max(0.05, min(3.0, settings.kafka_max_poll_interval_ms / 4000))

    # -- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @contextlib.contextmanager
    def stop_on_signals(
        self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)
    ) -> Iterator[None]:
        """While inside, these signals stop the runner gracefully (main thread only)."""

        def handler(signum: int, frame: Any) -> None:
            log.info("signal %d: finishing the batch in hand, then stopping", signum)
            self.stop()

        with on_stop_signals(handler, signals):
            yield

    def assignment(self) -> set[int]:
        return self._member.assignment()

    def close(self) -> None:
        # a handler still working (stop() waited long enough) is left to end by itself:
        # its batch is not committed, so the partition's next owner reads it again
        self._closed.set()
        self._calls.shutdown(wait=False)
        with contextlib.suppress(KafkaError):
            self._member.close()
        if self._own_producer:
            self._producer.close()

    # -- the loop ----------------------------------------------------------------------------

    def run(self, count: int | None = None, timeout: float | None = None) -> RunnerMetrics:
        """Process until stopped, ``count`` records were finished, or ``timeout`` seconds.

        A batch that fails outside the handler (the DLQ or the commit: the broker is
        down) is read again from the last commit after a backoff: without limit while a
        dependency is down, ``runner_max_crashes`` times in a row for any other error,
        which is then raised (the consumer is dead: ``crashed`` says why)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done_at_start = self.metrics.finished
        poll_ms = self.settings.runner_poll_timeout_ms
        crashes, rewind = 0, False
        delay = self.settings.runner_retry_backoff_s
        while not self._stop.is_set():
            done = self.metrics.finished - done_at_start
            if count is not None and done >= count:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            limit = self.batch_size if count is None else min(self.batch_size, count - done)
            try:
                if rewind:
                    self._member.rewind()
                    rewind = False
                records = self._member.poll(poll_ms, limit)
                if records and not self.process(records):
                    break  # stopped before the batch was committed: it is read again
                self._member.update_lag()
            except Exception as exc:
                transient = is_transient(exc)
                crashes += 0 if transient else 1
                self.metrics.crashes += 1
                self.crashed = _describe(exc)
                if crashes >= self.settings.runner_max_crashes:
                    log.error("consumer of %s gives up after %d failed batches in a row: %s",
                              self.topic, crashes, self.crashed)  # fmt: skip
                    self.crashed = None  # not retrying any more: dead (the thread says why)
                    raise
                log.warning("a batch of %s failed (%s%s); reading it again in %.1f s",
                            self.topic, "a dependency is down: " if transient else "",
                            self.crashed, delay, exc_info=not transient)  # fmt: skip
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.settings.runner_retry_backoff_max_s)
                rewind = True
                continue
            if not self._member.refusing:  # its commit may yet be refused for good
                crashes, delay, self.crashed = 0, self.settings.runner_retry_backoff_s, None
        self._member.flush_commits()  # commits go out without waiting: confirmed by now
        return self.metrics

    def process(self, records: Sequence[Any]) -> bool:
        """One batch, start to commit. Returns False when stopped before committing."""
        if self.metrics.first_records_at is None:
            self.metrics.first_records_at = time.monotonic()
        self.metrics.consumed += len(records)
        self.metrics.batches += 1
        self.metrics.oldest_in_hand_ms = min(r.timestamp for r in records)
        in_hand: dict[int, int] = {}
        for r in records:  # a partition's records come in offset order: its first is lowest
            in_hand.setdefault(r.partition, r.offset)
        self._member.in_hand = in_hand
        try:
            return self._process(records)
        finally:
            self.metrics.oldest_in_hand_ms = None
            self._member.in_hand = {}

    def _process(self, records: Sequence[Any]) -> bool:
        valid: list[Received[E]] = []
        letters: list[DeadLetter] = []
        for r in records:
            if r.value is None:
                letters.append(self._letter(r, "empty", "record has no value (tombstone)"))
                continue
            try:
                event = decode(self.model, r.value)
            except ContractError as exc:
                letters.append(self._letter(r, exc.kind, exc.reason))
                continue
            valid.append(Received(event, r.topic, r.partition, r.offset, r.key, r.timestamp))
        if self.dead_letters_invalid:
            self._dead_letter(letters)
        elif letters:
            log.info("%d invalid records of %s left to the group that dead-letters them",
                     len(letters), self.topic)  # fmt: skip
            self.metrics.left_invalid += len(letters)

        rejections = self._handle(valid)
        if rejections is None:
            return False
        rejected = [self._letter_for(rej) for rej in rejections]
        self._dead_letter(rejected)
        # sent without waiting; raises if the broker refused an earlier one: read again
        self._member.commit(records)
        self.metrics.processed += len(valid) - len(rejected)
        return True

    def _handle(
        self, valid: list[Received[E]], budget: float | None = None
    ) -> list[Rejection] | None:
        """The handler's rejections for the batch, or None when stopped meanwhile.

        Looking for the records that fail, a part of the batch gets one try (the error
        already recurred on the whole batch) and a single record its full tries, until
        ``budget`` (a monotonic deadline: half the poll interval) runs out; then one try
        each, so a flood of poison cannot hold the batch past the group's patience."""
        if not valid:
            return []
        top = budget is None
        if budget is None:
            budget = time.monotonic() + self.settings.kafka_max_poll_interval_ms / 2000
        full = top or (len(valid) == 1 and time.monotonic() < budget)
        got = self._attempt(valid, self.settings.runner_handler_attempts if full else 1)
        if got is None or isinstance(got, list):
            return got
        if len(valid) == 1:
            self.metrics.handler_failures += 1
            return [Rejection(valid[0], f"the handler failed on it: {_describe(got)}")]
        if top:
            log.warning("handler keeps failing on %d events of %s (%s): looking for the "
                        "records that fail", len(valid), self.topic, _describe(got))  # fmt: skip
        half = len(valid) // 2
        rejections: list[Rejection] = []
        for part in (valid[:half], valid[half:]):  # in order: keys stay in sequence
            found = self._handle(part, budget)
            if found is None:
                return None
            rejections += found
        return rejections

    def _attempt(
        self, valid: list[Received[E]], attempts: int
    ) -> list[Rejection] | Exception | None:
        """Run the handler until it returns (its rejections), fails with a non-transient
        error ``attempts`` times (that error), or the runner stops (None). A transient
        error is retried without limit: the dependency will come back."""
        delay = self.settings.runner_retry_backoff_s
        failures = 0
        while True:
            try:
                return list(self._call(valid) or ())
            except _AbandonedError:
                return None
            except Exception as exc:
                self.metrics.handler_retries += 1
                transient = is_transient(exc)
                failures += 0 if transient else 1
                if failures >= attempts:
                    return exc
                log.warning("handler failed on %d events of %s (%s%s); retrying in %.1f s",
                            len(valid), self.topic, "a dependency is down: " if transient else "",
                            _describe(exc), delay, exc_info=not transient)  # fmt: skip
            if self._wait(delay):
                log.warning("stopped while retrying; the batch stays uncommitted")
                return None
            delay = min(delay * 2, self.settings.runner_retry_backoff_max_s)

    def _call(self, valid: list[Received[E]]) -> Iterable[Rejection] | None:
        """The handler on its own thread; this one keeps the group membership meanwhile."""
        if self._closed.is_set():
            raise _AbandonedError
        call = partial(tracing.consuming, self.handler, self.topic, self.group) \
            if tracing.enabled() else self.handler  # fmt: skip
        future: Future[Iterable[Rejection] | None] = self._calls.submit(call, valid)
        while True:
            try:
                return future.result(timeout=self._keepalive_s)
            except FutureTimeout:
                if self._closed.is_set():  # closed under a stuck handler: leave it
                    raise _AbandonedError from None
                self._keep_membership()

    def _keep_membership(self) -> None:
        """Never a handler failure: whatever goes wrong here, the commit tells whether the
        batch still counts (a member dropped meanwhile has its commit refused)."""
        try:
            self._member.keep_membership()
        except Exception as exc:  # noqa: BLE001 - logged; the commit decides what counts
            log.warning("keeping the group membership of %s failed: %s", self.topic, exc)

    def _wait(self, seconds: float) -> bool:
        """Sleep between retries, answering the group meanwhile; True once stopped."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._stop.wait(min(left, self._keepalive_s)):
                return True
            self._keep_membership()
        return self._stop.is_set()

    def _letter(self, record: Any, kind: DeadLetterKind, reason: str) -> DeadLetter:
        value = None if record.value is None else self.model.redact(record.value)
        return DeadLetter.of_record(record, kind, reason, group=self.group, value=value)

    def _letter_for(self, rejection: Rejection) -> DeadLetter:
        rec = rejection.received
        value = self.model.redact(rec.event.__pydantic_serializer__.to_json(rec.event))
        return DeadLetter.of_record(rec, "processing", rejection.reason, group=self.group,
                                    value=value)  # fmt: skip

    def _dead_letter(self, letters: list[DeadLetter]) -> None:
        """Each letter on the DLQ, acknowledged, before the offsets move past them."""
        if not letters:
            return
        futures = []
        for letter in letters:
            log.warning(
                "dead-lettering %s[%d]@%d (%s): %s",
                letter.source_topic,
                letter.partition,
                letter.offset,
                letter.kind,
                letter.reason,
            )
            futures.append(
                self._producer.send_raw(
                    self.dlq_topic, letter.value, key=letter.key, headers=letter.headers()
                )
            )
        self._producer.wait(futures)  # durable before the offsets move past them
        self.metrics.dead_lettered += len(letters)
