"""``vigil bench checkpointer``: RedisSaver against SqliteSaver (file) and InMemorySaver.

A chat-shaped graph (a growing message list, a profile written once, a turn counter)
runs the same turns on each saver, rounds alternating so machine noise falls on all.
Reported: time per turn (median over turns) as a ratio to SQLite, and Redis memory per
thread (``MEMORY USAGE`` of every key of the thread) against the serialized size of the
thread's state, both with the full history kept and with only the latest checkpoint.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import redis
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from rich.console import Console
from rich.table import Table
from typing_extensions import TypedDict

from graphs.checkpointer import RedisSaver
from ingestion.redis_keys import as_text
from vigil.settings import Settings
from vigil.stack import Stack

GOAL_MEMORY_RATIO = 1.5


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    profile: dict[str, Any]
    turns: int


def _reply(state: ChatState) -> ChatState:
    n = state.get("turns", 0) + 1
    out: ChatState = {
        "turns": n,
        "messages": [
            AIMessage(
                f"Turn {n}: yes, we offer 0% financing for 12 months on purchases over 500 GBP "
                "for customers with a credit score above 700; your profile qualifies."
            )
        ],
    }
    if "profile" not in state:
        out["profile"] = {"customer_id": "cust-john", "credit_score": 795, "tenure_years": 22}
    return out


def _graph(saver: BaseCheckpointSaver[Any]) -> Any:
    g = StateGraph(ChatState)
    g.add_node("reply", _reply)
    g.add_edge(START, "reply")
    g.add_edge("reply", END)
    return g.compile(checkpointer=saver)


def _turns(saver: BaseCheckpointSaver[Any], threads: list[str], turns: int) -> list[float]:
    app = _graph(saver)
    times: list[float] = []
    for t in range(turns):
        for tid in threads:
            msg = {"messages": [HumanMessage(f"Do you offer 0% financing? (question {t})")]}
            t0 = time.perf_counter()
            app.invoke(msg, {"configurable": {"thread_id": tid}})
            times.append(time.perf_counter() - t0)
    return times


def _redis_thread_bytes(client: redis.Redis, saver: RedisSaver, tid: str) -> int:
    """Every key of the thread, plus the run-index sets its checkpoints are listed in."""
    keys = list(client.scan_iter(match=saver.layout.thread(tid) + ":*", count=1000))
    runs = {r for k in keys if b":cp\x1f" in k for r in [client.hget(k, "r")] if r}
    keys += [saver.layout.run(as_text(r)).encode() for r in runs]
    return sum(int(client.memory_usage(k, samples=0) or 0) for k in keys)


def run_checkpointer_bench(
    settings: Settings, console: Console, *, threads: int, turns: int, rounds: int
) -> None:
    serde = JsonPlusSerializer()
    with Stack(settings, kafka=False) as eff, tempfile.TemporaryDirectory() as tmp:
        url = eff.redis_url or ""
        client = redis.Redis.from_url(url)
        console.print(f"Redis {url}; {threads} threads x {turns} turns x {rounds} rounds per saver")
        prefix = f"bench:cp:{uuid.uuid4().hex[:8]}"
        makers: dict[str, Callable[[], BaseCheckpointSaver[Any]]] = {
            "RedisSaver": lambda: RedisSaver(client, prefix=prefix),
            "SqliteSaver (file)": lambda: _sqlite(Path(tmp) / f"{uuid.uuid4().hex}.db"),
            "InMemorySaver": InMemorySaver,
        }
        per_turn: dict[str, list[float]] = {name: [] for name in makers}
        last_redis: tuple[RedisSaver, list[str]] | None = None
        for r in range(rounds):
            order = list(makers)
            if r % 2:
                order.reverse()
            for name in order:
                saver = makers[name]()
                tids = [f"{name[:5]}-{r}-{i}-{uuid.uuid4().hex[:6]}" for i in range(threads)]
                per_turn[name].append(statistics.median(_turns(saver, tids, turns)))
                if isinstance(saver, RedisSaver):
                    last_redis = (saver, tids)
        assert last_redis is not None
        saver, tids = last_redis
        tid = tids[0]
        state = _graph(saver).get_state({"configurable": {"thread_id": tid}}).values
        state_bytes = len(serde.dumps_typed(state)[1])
        full = _redis_thread_bytes(client, saver, tid)
        saver.prune([tid], strategy="keep_latest")
        latest = _redis_thread_bytes(client, saver, tid)
        keys = list(client.scan_iter(match=prefix + ":*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    sqlite_ms = statistics.median(per_turn["SqliteSaver (file)"]) * 1000
    table = Table("saver", "time per turn (median)", "ratio to SQLite", title="per chat turn")
    for name, samples in per_turn.items():
        ms = statistics.median(samples) * 1000
        table.add_row(name, f"{ms:.2f} ms", f"{ms / sqlite_ms:.2f}")
    console.print(table)
    mem = Table("Redis memory per thread", "bytes", "x serialized state", title="memory")
    mem.add_row("serialized state (JsonPlus)", f"{state_bytes:,}", "1.00")
    mem.add_row(f"full history ({turns} turns)", f"{full:,}", f"{full / state_bytes:.2f}")
    mem.add_row("latest checkpoint only (pruned)", f"{latest:,}", f"{latest / state_bytes:.2f}")
    console.print(mem)
    redis_ms = statistics.median(per_turn["RedisSaver"]) * 1000
    speed_ok = redis_ms <= sqlite_ms
    mem_ok = latest / state_bytes <= GOAL_MEMORY_RATIO
    console.print(
        f"per turn: RedisSaver {redis_ms / sqlite_ms:.2f}x SQLite "
        f"({'[green]meets' if speed_ok else '[red]misses'}[/] the goal of <= 1.00); "
        f"memory of a live thread: {latest / state_bytes:.2f}x its state "
        f"({'[green]meets' if mem_ok else '[red]misses'}[/] the goal of <= {GOAL_MEMORY_RATIO})"
    )


def _sqlite(path: Path) -> BaseCheckpointSaver[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    return SqliteSaver(sqlite3.connect(path, check_same_thread=False))
