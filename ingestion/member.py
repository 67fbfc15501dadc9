"""The runner's side of the consumer group: the consumer, its commits, its lag, and the
polls that keep its membership while a handler works (``ingestion.runner``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata

from ingestion.runner_metrics import RunnerMetrics
from ingestion.transient import is_transient

log = logging.getLogger(__name__)

#: a commit refused because the group moved on: the partitions' next owner re-delivers
_REBALANCED = (
    CommitFailedError,
    RebalanceInProgressError,
    IllegalGenerationError,
    UnknownMemberIdError,
)


class GroupMember:
    """One KafkaConsumer subscribed to one topic; used from one thread only."""

    def __init__(
        self, config: dict[str, Any], topic: str, metrics: RunnerMetrics, request_timeout_ms: int
    ) -> None:
        self.topic = topic
        self.metrics = metrics
        self.request_timeout_ms = request_timeout_ms
        self.consumer = KafkaConsumer(**config)
        self.consumer.subscribe([topic])
        # next offset to process, per partition (the lag metric)
        self._next: dict[int, int] = {}
        #: first offset of the batch in hand, per partition (uncommitted: part of the lag)
        self.in_hand: dict[int, int] = {}
        #: offsets sent in commits the broker has not confirmed yet, the latest per partition
        self._unconfirmed: dict[TopicPartition, OffsetAndMetadata] = {}
        #: why the broker refused an asynchronous commit (raised at the next one)
        self._refused: Exception | None = None
        #: a commit was refused for good and none confirmed since: batches do not count
        #: as done for the runner's crashes-in-a-row until one is
        self.refusing = False

    def poll(self, timeout_ms: int, max_records: int) -> list[Any]:
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return [r for batch in polled.values() for r in batch]

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def rewind(self) -> None:
        """Back to the last committed offset of every owned partition: the batch that
        failed is read again (nothing after a commit is skipped)."""
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp, timeout_ms=self.request_timeout_ms)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    def keep_membership(self) -> None:
        """A poll that fetches nothing: it heartbeats, resets the group's poll timer and
        takes part in a rebalance. Owned partitions are paused; a partition assigned during
        this poll may still return records, and is rewound to the first of them."""
        owned = self.consumer.assignment()
        self.consumer.pause(*owned)
        try:
            polled = self.consumer.poll(timeout_ms=0, update_offsets=False)
        except KafkaError as exc:  # the commit will tell whether the batch still counts
            log.warning("keeping the group membership of %s failed: %s", self.topic, exc)
            return
        finally:  # a rebalance in that poll may have taken some of them away
            still = self.consumer.assignment()
            self.consumer.resume(*(tp for tp in owned if tp in still))
        for tp, records in polled.items():
            if records:
                self.consumer.seek(tp, records[0].offset)
        self.update_lag()

    def commit(self, records: Sequence[Any]) -> None:
        """Commit the offsets past ``records`` without waiting for the broker's answer:
        the next batch is fetched and handled meanwhile (a commit is a round trip per
        batch: 13 % of the runner's time when it waited). Only offsets of finished
        records are ever sent, so at-least-once holds whatever the answer. Each commit
        carries every owned partition's latest unconfirmed offset too, so one that the
        broker refused for a passing reason goes again with the next. A refusal that is
        not passing (not a rebalance, not a dependency down) is raised here at the next
        commit, and the runner reads again from the last commit."""
        refused, self._refused = self._refused, None
        if refused is not None:
            raise refused
        offsets = self._owned_unconfirmed()
        last: dict[int, int] = {}
        for r in records:  # a partition's records come in offset order
            last[r.partition] = r.offset
        for p, o in last.items():
            offsets[TopicPartition(self.topic, p)] = OffsetAndMetadata(o + 1, "", -1)
            self._next[p] = o + 1  # done with: no longer lag, whenever the broker answers
        self.consumer.commit_async(offsets=offsets, callback=self._answered)
        self._unconfirmed = dict(offsets)  # a copy: the answer's callback iterates offsets

    def flush_commits(self) -> None:
        """Wait until the broker holds every offset sent (one commit of the latest ones),
        before the runner returns: whoever reads next starts past what was done. Never
        raises: offsets the broker cannot confirm now are read again later (their
        batches were done: at-least-once)."""
        offsets = self._owned_unconfirmed()
        self._unconfirmed, self._refused = {}, None
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets)
        except CommitFailedError as exc:
            self._rebalanced(exc)
        except KafkaError as exc:
            log.warning("the last commits of %s are not confirmed (%s): their batches will "
                        "be read again", self.topic, exc)  # fmt: skip
        else:
            self._confirmed(offsets)

    def _owned_unconfirmed(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Unconfirmed offsets of the partitions still owned (never another member's)."""
        owned = self.consumer.assignment()
        return {tp: om for tp, om in self._unconfirmed.items() if tp in owned}

    def _answered(self, offsets: dict[TopicPartition, OffsetAndMetadata], answer: Any) -> None:
        """kafka-python's callback for an asynchronous commit (on this thread, in a poll)."""
        if not isinstance(answer, Exception):
            self._confirmed(offsets)
        elif isinstance(answer, _REBALANCED):
            self._rebalanced(answer)
        elif is_transient(answer):
            self.metrics.commit_failures += 1
            log.warning("a commit of %s was refused (%s): its offsets go again with the next",
                        self.topic, answer)  # fmt: skip
        else:
            self.metrics.commit_failures += 1
            self._refused, self.refusing = self._refused or answer, True

    def _rebalanced(self, exc: Exception) -> None:
        # The group rebalanced while we worked: the partitions went to another member,
        # which re-delivers from the last commit. Handlers are idempotent, so it is safe.
        self.metrics.commit_failures += 1
        log.warning("commit failed after a rebalance (batch will be re-delivered): %s", exc)

    def _confirmed(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        self.refusing = False
        self.metrics.commits += 1
        self.metrics.last_commit_at = time.monotonic()
        for tp, om in offsets.items():
            if self._unconfirmed.get(tp) == om:  # nothing newer was sent meanwhile
                del self._unconfirmed[tp]

    def update_lag(self) -> None:
        lag: dict[int, int] = {}
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            nxt = self._next.get(tp.partition)
            if nxt is None:
                try:
                    nxt = self.consumer.position(tp, timeout_ms=0)
                except KafkaError:
                    continue  # position not known yet (just assigned): no lag to report
            if nxt is not None:
                nxt = min(nxt, self.in_hand.get(tp.partition, nxt))
                lag[tp.partition] = max(0, high - nxt)
        self.metrics.lag = lag

    def close(self) -> None:
        self.consumer.close(autocommit=False)
