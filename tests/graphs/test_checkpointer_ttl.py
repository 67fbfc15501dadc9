"""TTL: live state never expires under a thread in use; idle threads do."""

from __future__ import annotations

import time
from typing import Any

import redis
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from graphs.checkpointer import RedisSaver
from tests.graphs.conftest import keys_under

TTL_S = 1.0


class Profile(TypedDict, total=False):
    name: str  # set once, on the first turn, never written again
    turns: int


def turn(state: Profile) -> Profile:
    out: Profile = {"turns": state.get("turns", 0) + 1}
    if "name" not in state:
        out["name"] = "John"
    return out


def graph(saver: RedisSaver) -> Any:
    g = StateGraph(Profile)
    g.add_node("turn", turn)
    g.add_edge(START, "turn")
    g.add_edge("turn", END)
    return g.compile(checkpointer=saver)


def test_a_field_set_once_outlives_many_ttl_periods(server_url: str, cp_prefix: str) -> None:
    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix, ttl_s=TTL_S)
    app = graph(saver)
    config: Any = {"configurable": {"thread_id": "chat-1"}}
    started = time.monotonic()
    turns = 0
    # bounded by turns as well as time: on a loaded machine a turn can take most of a period
    while time.monotonic() - started < 4.5 * TTL_S or turns < 10:
        app.invoke({}, config)
        turns += 1
        time.sleep(0.3 * TTL_S)
    state = app.get_state(config).values
    assert state == {"name": "John", "turns": turns}
    # superseded checkpoints did age out: TTL was really on
    kept = list(saver.list(config))
    assert 0 < len(kept) < 2 * turns


def test_an_idle_thread_expires_entirely(server_url: str, cp_prefix: str) -> None:
    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix, ttl_s=TTL_S)
    app = graph(saver)
    config: Any = {"configurable": {"thread_id": "chat-idle"}}
    for _ in range(3):
        app.invoke({}, config)
    thread_prefix = saver.layout.thread("chat-idle")
    assert keys_under(server_url, thread_prefix)
    time.sleep(TTL_S * 1.6)
    assert keys_under(server_url, thread_prefix) == []
    assert app.get_state(config).values == {}
    assert list(saver.list(config)) == []
    assert list(saver.list(None)) == []


def test_without_ttl_nothing_expires(server_url: str, cp_prefix: str) -> None:
    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix)
    app = graph(saver)
    config: Any = {"configurable": {"thread_id": "chat-kept"}}
    app.invoke({}, config)
    client = redis.Redis.from_url(server_url)
    ttls = {client.pttl(k) for k in keys_under(server_url, cp_prefix)}
    client.close()
    assert ttls == {-1}


def test_reading_an_old_checkpoint_renews_the_latest(server_url: str, cp_prefix: str) -> None:
    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix, ttl_s=TTL_S)
    app = graph(saver)
    config: Any = {"configurable": {"thread_id": "chat-history"}}
    for _ in range(3):
        app.invoke({}, config)
    oldest = list(saver.list(config))[-1].config
    started = time.monotonic()
    while time.monotonic() - started < 3 * TTL_S:
        saver.get_tuple(oldest)  # only the old checkpoint is read, never the latest
        time.sleep(0.3 * TTL_S)
    assert app.get_state(config).values == {"name": "John", "turns": 3}


def test_the_two_servers_really_are_redis_7_and_valkey_9(server_url: str) -> None:
    info = redis.Redis.from_url(server_url).info("server")
    if "valkey_version" in info or info.get("server_name") == "valkey":
        assert str(info.get("valkey_version", "")).startswith("9.")
    else:
        assert str(info["redis_version"]).startswith("7.")
