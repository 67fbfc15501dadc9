"""``vigil bench sse``: the chat over HTTP/SSE against the chat graph's stream in-process.

Both sides run the same chat graph on the same Redis, knowledge base and profiles, with a
scripted model (no model time in the figures):

* one stream at a time: time to the first event and time per streamed token, in-process
  (``graph.astream``) and through the API (``POST /chat/{thread}`` read with httpx), with
  the model emitting tokens as fast as it can: the API's overhead per token;
* many streams at once: N clients open their chat at a steady pace and hold the stream
  while the model emits a token every ``--token-ms``; reported: how many were open at
  once, how many completed, and the p50/p99 time to the first event.

The API runs in its own process (uvicorn), as in production; clients in this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis
import uvloop
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from rich.console import Console
from rich.table import Table

from graphs.chat import ChatContext, build_graph
from graphs.checkpointer import make_checkpointer
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.ingest import KnowledgeIngestor
from ingestion.profiles import RedisProfileStore
from ingestion.seed import seed_customers, seed_documents
from vigil.runtime.embedded import free_port, tcp_reachable
from vigil.runtime.stack import Stack
from vigil.settings import Settings

GOAL_STREAMS = 500
GOAL_P99_FIRST_MS = 100.0
KEY = "bench-customer-key"
ANSWER_WORDS = 60


def _answer() -> str:
    return " ".join(f"word{i}" for i in range(ANSWER_WORDS))


def _gateway(token_delay_s: float) -> ModelGateway:
    model = ScriptedChatModel(script=[_answer()] * 100_000, token_delay_s=token_delay_s)
    # a scripted model has no capacity limit: the cap would only queue the streams
    return ModelGateway([ModelEntry("scripted", model)], concurrency=100_000)


def _serve(settings: Settings, token_delay_s: float) -> None:
    """The API process: served exactly as ``vigil api`` serves it, with the scripted model."""
    from vigil.runtime.server import serve

    serve(settings, gateway=_gateway(token_delay_s), log_level="WARNING")


class ApiProcess:
    def __init__(self, settings: Settings, token_delay_s: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.settings = settings
        self.proc = ctx.Process(target=_serve, args=(settings, token_delay_s), daemon=True)

    def __enter__(self) -> str:
        self.proc.start()
        deadline = time.monotonic() + 120
        while not tcp_reachable("127.0.0.1", self.settings.api_port):
            if time.monotonic() > deadline or not self.proc.is_alive():
                raise RuntimeError("the API process did not start")
            time.sleep(0.1)
        return f"http://127.0.0.1:{self.settings.api_port}"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


async def _in_process(settings: Settings, runs: int) -> tuple[float, float]:
    """(median time to first event, median time per token) of graph.astream itself."""
    from vigil.wiring.clients import tool_context

    client = redis.Redis.from_url(str(settings.redis_url))
    graph = build_graph(make_checkpointer(settings))

    class NoPublisher:
        def publish(self, events: Any, **kw: Any) -> list[Any]:
            return []

    tools = tool_context(settings, NoPublisher(), client=client, audience="chat")
    ctx = ChatContext(tools=tools, gateway=_gateway(0.0), customer_id="cust-john")
    firsts, per_token = [], []
    for _ in range(runs):
        config: RunnableConfig = {"configurable": {"thread_id": f"bench-{uuid.uuid4().hex}"}}
        clock = _Clock()
        stream: AsyncIterator[Any] = graph.astream(
            {"messages": [HumanMessage("Do you offer 0% financing?")]},
            config,
            context=ctx,
            stream_mode=["messages", "custom", "updates"],
            subgraphs=True,
        )
        async for _ns, mode, _chunk in stream:
            clock.event(token=mode == "messages")
        firsts.append(clock.first)
        per_token.append(clock.per_token)
    client.close()
    return statistics.median(firsts), statistics.median(per_token)


class _Clock:
    """Time to the first event, and time per token from the first token to the last (the
    time between tokens, without the retrieval before them)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first = 0.0
        self.tokens = 0
        self.first_token = self.last_token = 0.0

    def event(self, *, token: bool) -> None:
        now = time.perf_counter()
        if not self.first:
            self.first = now - self.started
        if token:
            self.tokens += 1
            self.first_token = self.first_token or now
            self.last_token = now

    @property
    def per_token(self) -> float:
        return (self.last_token - self.first_token) / max(self.tokens - 1, 1)


async def _one_stream(client: httpx.AsyncClient, thread: str) -> tuple[_Clock, bool]:
    """One chat turn over SSE: its clock, and whether it ended with success."""
    clock = _Clock()
    ok = False
    name = ""
    async with client.stream(
        "POST", f"/chat/{thread}", json={"message": "Do you offer 0% financing?"}
    ) as r:
        if r.status_code != 200:
            return clock, False
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
                clock.event(token=name == "token")
            elif name == "end" and line.startswith("data:"):
                ok = '"success"' in line
    return clock, ok


async def _api_serial(url: str, runs: int) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {KEY}"}
    firsts, per_token = [], []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for _ in range(runs):
            clock, ok = await _one_stream(client, f"s-{uuid.uuid4().hex[:12]}")
            if not ok:
                raise RuntimeError("a chat stream failed during the benchmark")
            firsts.append(clock.first)
            per_token.append(clock.per_token)
    return statistics.median(firsts), statistics.median(per_token)


@contextlib.contextmanager
def _client_without_full_collections() -> Iterator[None]:
    """The clients stand for many people on many machines: a full collection of this
    process (torch is loaded here too) would stall all of them and read as server latency."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(old[0], old[1], 1_000_000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


async def _api_concurrent(url: str, n: int, ramp_s: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    open_now = peak = 0

    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=300, limits=limits
    ) as client:

        async def one(i: int) -> tuple[float, bool]:
            nonlocal open_now, peak
            await asyncio.sleep(ramp_s * i / n)
            open_now += 1
            peak = max(peak, open_now)
            try:
                clock, ok = await _one_stream(client, f"c-{i}-{uuid.uuid4().hex[:8]}")
            except httpx.HTTPError:
                return 0.0, False
            finally:
                open_now -= 1
            return clock.first, ok

        results = await asyncio.gather(*(one(i) for i in range(n)))
    firsts = sorted(f for f, ok in results if ok)
    done = len(firsts)

    def pct(p: float) -> float:
        return firsts[min(done - 1, int(p * done))] * 1000 if done else float("nan")

    return {"n": n, "completed": done, "peak_open": peak, "p50": pct(0.5), "p99": pct(0.99)}


def parse_loads(text: str) -> list[tuple[float, float]]:
    """``"200@20,40@4"`` -> [(ms a token, seconds over which the clients arrive), ...]."""
    out = []
    for item in text.split(","):
        pace, at, ramp = item.strip().partition("@")
        try:
            out.append((float(pace), float(ramp)))
        except ValueError:
            raise ValueError(
                f"bad load {item!r}: give PACE_MS@RAMP_S, e.g. 200@20 (a token every 200 ms, "
                "the clients arriving over 20 s)"
            ) from None
        if not at or out[-1][0] < 0 or out[-1][1] <= 0:
            raise ValueError(f"bad load {item!r}: give PACE_MS@RAMP_S with a positive ramp")
    return out


def run_sse_bench(
    settings: Settings,
    console: Console,
    *,
    streams: int,
    runs: int,
    loads: list[tuple[float, float]],
) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Stack(settings.model_copy(update={"data_dir": Path(tmp)})) as eff,
    ):
        s = eff.model_copy(
            update={
                "redis_prefix": f"bench-sse-{uuid.uuid4().hex[:6]}",
                "api_keys": {KEY: "customer:cust-john"},
                "api_port": free_port(),
                "api_reconnect_grace_s": 30.0,
            }
        )
        client = redis.Redis.from_url(str(s.redis_url))
        RedisProfileStore(client, prefix=s.redis_prefix).apply(seed_customers(50))
        from vigil.wiring.clients import retriever

        embedder = MiniLMEmbedder(s.embedder_path)
        store = retriever(s, embedder.dim)
        ingestor = KnowledgeIngestor(store, embedder, client, prefix=s.redis_prefix)
        for doc in seed_documents():
            ingestor.apply(doc)
        console.print(
            f"Redis {s.redis_url}; the API in its own process; scripted model, "
            f"{ANSWER_WORDS} words an answer (word and space chunks: {2 * ANSWER_WORDS - 1} tokens)"
        )
        in_first, in_token = asyncio.run(_in_process(s, runs))
        with ApiProcess(s, 0.0) as url:
            asyncio.run(_api_serial(url, 2))  # warm up: imports, first embeddings
            api_first, api_token = asyncio.run(_api_serial(url, runs))
        concurrent = []
        for pace, ramp_s in loads:
            with ApiProcess(s, pace / 1000) as url:
                asyncio.run(_api_serial(url, 2))  # a warm process, as in service
                with (
                    _client_without_full_collections(),
                    asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
                ):
                    held = runner.run(_api_concurrent(url, streams, ramp_s))
                concurrent.append((pace, ramp_s, held))
        client.close()

    table = Table(
        "one stream at a time", "in-process graph.astream", "API over SSE", "ratio",
        title=f"median of {runs} turns, the model as fast as it can",
    )  # fmt: skip
    table.add_row("time to first event", f"{in_first * 1000:.1f} ms",
                  f"{api_first * 1000:.1f} ms", f"{api_first / in_first:.2f}")  # fmt: skip
    table.add_row("time per streamed token", f"{in_token * 1e6:.0f} us",
                  f"{api_token * 1e6:.0f} us", f"{api_token / in_token:.2f}")  # fmt: skip
    console.print(table)
    console.print(f"API overhead per token: {(api_token - in_token) * 1e6:.0f} us")
    t2 = Table(
        "a token every", "new chats /s", "held open at once", "completed", "first event p50",
        "first event p99", "p99 / goal",
        title=f"{streams} clients (goal: {GOAL_STREAMS} held at once, "
        f"p99 first event < {GOAL_P99_FIRST_MS:g} ms)",
    )  # fmt: skip
    verdicts = []
    for pace, ramp_s, c in concurrent:
        t2.add_row(
            f"{pace:g} ms", f"{streams / ramp_s:.0f}", f"{c['peak_open']}",
            f"{c['completed']} / {c['n']}", f"{c['p50']:.1f} ms", f"{c['p99']:.1f} ms",
            f"{c['p99'] / GOAL_P99_FIRST_MS:.2f}",
        )  # fmt: skip
        met = (c["peak_open"] >= GOAL_STREAMS and c["completed"] == c["n"]
               and c["p99"] < GOAL_P99_FIRST_MS)  # fmt: skip
        verdicts.append(
            f"{'[green]meets' if met else '[red]misses'}[/] at a token every {pace:g} ms, "
            f"{streams / ramp_s:.0f} new chats/s"
        )
    console.print(t2)
    console.print("the goal: " + "; ".join(verdicts))
