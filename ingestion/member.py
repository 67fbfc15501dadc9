"""The runner's side of the consumer group: the consumer, its commits, its lag, and the
polls that keep its membership while a handler works (``ingestion.runner``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from ingestion.runner_metrics import RunnerMetrics

log = logging.getLogger(__name__)


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
        # next offset to process, per partition; drives the commit and the lag metric
        self._next: dict[int, int] = {}
        #: first offset of the batch in hand, per partition (uncommitted: part of the lag)
        self.in_hand: dict[int, int] = {}

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
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            nxt = r.offset + 1
            if tp not in offsets or offsets[tp].offset < nxt:
                offsets[tp] = OffsetAndMetadata(nxt, "", -1)
        try:
            self.consumer.commit(offsets=offsets)
        except CommitFailedError as exc:
            # The group rebalanced while we worked: the partitions went to another member,
            # which re-delivers from the last commit. Handlers are idempotent, so it is safe.
            self.metrics.commit_failures += 1
            log.warning("commit failed after a rebalance (batch will be re-delivered): %s", exc)
            return
        self.metrics.commits += 1
        self.metrics.last_commit_at = time.monotonic()
        for tp, om in offsets.items():
            self._next[tp.partition] = om.offset

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
