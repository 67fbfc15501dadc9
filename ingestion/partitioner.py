"""The producer's partitioner: kafka-python's key hashing, each key hashed once.

kafka-python's ``DefaultPartitioner`` hashes every record's key with a pure-Python
murmur2: 7 % of the fraud agent's screening time, for keys (customer ids) that repeat
all day. This one gives every key the
partition the default gives it (the same murmur2, the same modulo over the sorted
partitions, so records of one key stay on one partition whichever Vigil process or other
client sends them), with the hashes of recent keys kept.
"""

from __future__ import annotations

import random
from typing import Any

from kafka.partitioner import Partitioner
from kafka.partitioner.default import murmur2

#: hashes kept; past this the cache starts again (a key costs one murmur2 then)
CACHED_KEYS = 65_536


class KeyHashPartitioner(Partitioner):  # type: ignore[misc]
    def __init__(self, cached: int = CACHED_KEYS) -> None:
        self._hashes: dict[bytes, int] = {}
        self._cached = cached

    def partition(
        self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
        serialized_value: Any, cluster: Any,
    ) -> int:  # fmt: skip
        current = cluster.partitions_for_topic(topic)
        if not current:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        ordered: list[int] = sorted(current)  # read each time: a topic may gain partitions
        if serialized_key is None:  # as the default: any available partition
            available = list(cluster.available_partitions_for_topic(topic))
            return int(random.choice(available or ordered))
        h = self._hashes.get(serialized_key)
        if h is None:
            if len(self._hashes) >= self._cached:
                self._hashes.clear()
            h = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        return ordered[h % len(ordered)]
