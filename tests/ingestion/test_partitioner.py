"""The cached partitioner gives every key the partition kafka-python's default gives it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner import DefaultPartitioner

from ingestion.partitioner import KeyHashPartitioner


class Cluster:
    """The two questions a partitioner asks of kafka-python's cluster metadata."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions.get(topic)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions.get(topic, set())


@settings(max_examples=300)
@given(
    keys=st.lists(st.binary(max_size=300), min_size=1, max_size=40),
    count=st.integers(min_value=1, max_value=64),
)
def test_every_key_lands_where_the_default_puts_it(keys: list[bytes], count: int) -> None:
    cluster = Cluster({"t": set(range(count))})
    ours = KeyHashPartitioner(cached=8)  # small: the cache starts again on the way
    default = DefaultPartitioner()
    for key in keys + keys:  # the second time from the cache
        assert ours.partition("t", None, key, None, None, cluster) == default.partition(
            "t", None, key, None, None, cluster
        )


def test_a_topic_that_gains_partitions_is_hashed_over_all_of_them() -> None:
    partitions = {"t": {0, 1, 2}}
    cluster = Cluster(partitions)
    ours, default = KeyHashPartitioner(), DefaultPartitioner()
    keys = [f"user-{i}".encode() for i in range(200)]
    before = [ours.partition("t", None, k, None, None, cluster) for k in keys]
    assert set(before) == {0, 1, 2}
    partitions["t"] = set(range(12))
    after = [ours.partition("t", None, k, None, None, cluster) for k in keys]
    assert after == [default.partition("t", None, k, None, None, cluster) for k in keys]
    assert max(after) > 2


def test_an_unknown_topic_and_a_keyless_record() -> None:
    ours = KeyHashPartitioner()
    cluster: Any = Cluster({"t": {0, 1}})
    with pytest.raises(ValueError, match="not found"):
        ours.partition("nope", None, b"k", None, None, cluster)
    assert {ours.partition("t", None, None, None, None, cluster) for _ in range(50)} <= {0, 1}
