"""The sync methods drive the same plans as the async ones: spot-check each operation."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from graphs.checkpointer import RedisSaver, make_checkpointer
from graphs.errors import CheckpointerConfigError
from tests.conftest import base_settings
from tests.graphs.conftest import keys_under


class Counter(TypedDict, total=False):
    n: int
    blob: str


def bump(state: Counter) -> Counter:
    return {"n": state.get("n", 0) + 1, "blob": "x" * 2000}


def app(saver: Any) -> Any:
    g = StateGraph(Counter)
    g.add_node("bump", bump)
    g.add_edge(START, "bump")
    g.add_edge("bump", END)
    return g.compile(checkpointer=saver)


def cfg(tid: str) -> Any:
    return {"configurable": {"thread_id": tid}}


def test_sync_copy_prune_delete(server_url: str, cp_prefix: str) -> None:
    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix)
    graph = app(saver)
    for _ in range(4):
        graph.invoke({}, cfg("a"))
    reference = InMemorySaver()
    ref_graph = app(reference)
    for _ in range(4):
        ref_graph.invoke({}, cfg("a"))
    history = list(saver.list(cfg("a")))
    assert len(history) == len(list(reference.list(cfg("a")))) > 4
    assert [t.checkpoint["id"] for t in history] == sorted(
        (t.checkpoint["id"] for t in history), reverse=True
    )
    assert len(list(saver.list(cfg("a"), limit=3))) == 3
    assert len(list(saver.list(cfg("a"), filter={"source": "input"}))) == 4

    saver.copy_thread("a", "b")
    assert graph.get_state(cfg("b")).values == {"n": 4, "blob": "x" * 2000}

    blobs_before = [k for k in keys_under(server_url, saver.layout.thread("a")) if b":b\x1f" in k]
    saver.prune(["a"], strategy="keep_latest")
    [kept] = list(saver.list(cfg("a")))
    blobs_after = [k for k in keys_under(server_url, saver.layout.thread("a")) if b":b\x1f" in k]
    # pruning garbage-collects the values no remaining checkpoint reads
    assert len(blobs_after) == len(kept.checkpoint["channel_values"]) < len(blobs_before)
    assert graph.get_state(cfg("a")).values["n"] == 4
    graph.invoke({}, cfg("a"))  # a pruned thread carries on from where it was
    assert graph.get_state(cfg("a")).values["n"] == 5

    saver.delete_thread("a")
    assert keys_under(server_url, saver.layout.thread("a")) == []
    assert graph.get_state(cfg("b")).values["n"] == 4, "the copy is independent"


def test_factory_builds_from_settings(server_url: str) -> None:
    saver = make_checkpointer(base_settings(redis_url=server_url, checkpoint_ttl_s=30))
    assert isinstance(saver, RedisSaver)
    assert saver.ttl_ms == 30_000
    memory = make_checkpointer(base_settings(checkpointer="memory"))
    assert type(memory).__name__ == "InMemorySaver"


def test_factory_explains_a_missing_redis() -> None:
    with pytest.raises(CheckpointerConfigError, match="VIGIL_REDIS_URL"):
        make_checkpointer(base_settings())
