"""Guard rails around every model call: timeout, retries, a concurrency cap, accounting.

``ModelGateway`` holds a chain of models (the primary, then fallbacks). A call tries
each in turn: transient errors (timeouts, connection errors, rate limits, 5xx) are
retried with exponential backoff; anything else, or exhausted retries, moves on to the
next model. Every attempt is measured (latency, input/output tokens) into ``CallRecord``
objects, which callers attach to what they decide, and into ``ModelMetrics``.

The async methods are the implementation; the sync ones run them on a private event
loop, so nodes may be sync or async.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import LLMResult
from langchain_core.runnables import Runnable

from graphs.errors import GraphError

StructuredMethod = Literal["native", "json_schema", "json"]

_TRANSIENT_NAMES = {
    "RateLimitError",
    "APIConnectionError",
    "APITimeoutError",
    "InternalServerError",
    "ServiceUnavailableError",
    "OverloadedError",
    "ConnectError",
    "ReadTimeout",
    "ConnectTimeout",
    "RemoteProtocolError",
}
_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def is_transient(exc: BaseException) -> bool:
    """Worth retrying the same model: timeouts, dropped connections, rate limits, 5xx."""
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    if type(exc).__name__ in _TRANSIENT_NAMES:
        return True
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    return status in _TRANSIENT_STATUS


class ModelCallError(GraphError):
    """Every model of the chain failed; ``records`` says how each attempt went."""

    def __init__(self, message: str, records: list[CallRecord]) -> None:
        super().__init__(message)
        self.records = records


@dataclass(frozen=True)
class ModelEntry:
    """One model of the chain and how to get structured output from it."""

    name: str
    model: BaseChatModel
    structured: StructuredMethod = "native"
    #: may its judgement raise a decision above what the rules require? The offline model's
    #: may not (its judgement is poor: evals saw it turn holds into blocks); it advises
    decides: bool = True


@dataclass
class CallRecord:
    """One attempt at one model."""

    model: str
    attempt: int
    latency_s: float
    ok: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    first_token_s: float | None = None
    #: a failure that says the model is down or slow (timeout, connection, 429, 5xx)
    transient: bool | None = None
    #: a failure that says the model cannot be reached at all (transient, not a timeout)
    outage: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ModelMetrics:
    """Process-wide counters; the API renders them as Prometheus metrics."""

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    calls: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_sum_s: float = 0.0
    latency_buckets: dict[float, int] = field(
        default_factory=lambda: dict.fromkeys((0.1, 0.5, 1, 2, 5, 10, 30, 60, float("inf")), 0)
    )

    def record(self, rec: CallRecord) -> None:
        with self.lock:
            self.calls[rec.model] = self.calls.get(rec.model, 0) + 1
            if not rec.ok:
                self.failures[rec.model] = self.failures.get(rec.model, 0) + 1
            self.input_tokens += rec.input_tokens or 0
            self.output_tokens += rec.output_tokens or 0
            self.latency_sum_s += rec.latency_s
            for bound in self.latency_buckets:
                if rec.latency_s <= bound:
                    self.latency_buckets[bound] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "failures": dict(self.failures),
                "retries": self.retries,
                "fallbacks": self.fallbacks,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "latency_sum_s": self.latency_sum_s,
                "latency_buckets": dict(self.latency_buckets),
            }


class _Usage(BaseCallbackHandler):
    """Catches token counts however the provider reports them."""

    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        usage = (response.llm_output or {}).get("token_usage") or {}
        self.input = usage.get("prompt_tokens", self.input)
        self.output = usage.get("completion_tokens", self.output)
        for generations in response.generations:
            for gen in generations:
                meta = getattr(getattr(gen, "message", None), "usage_metadata", None)
                if meta:
                    self.input = meta.get("input_tokens", self.input)
                    self.output = meta.get("output_tokens", self.output)


class _Slots:
    """A per-process cap on calls in flight, usable from threads and event loops alike."""

    def __init__(self, n: int) -> None:
        self._sem = threading.BoundedSemaphore(n)

    async def __aenter__(self) -> None:
        while not self._sem.acquire(blocking=False):
            await asyncio.sleep(0.005)

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()


_PROCESS_SLOTS: dict[int, _Slots] = {}
_PROCESS_SLOTS_LOCK = threading.Lock()


def process_slots(n: int) -> _Slots:
    """The cap shared by every gateway of this process (one per configured size)."""
    with _PROCESS_SLOTS_LOCK:
        if n not in _PROCESS_SLOTS:
            _PROCESS_SLOTS[n] = _Slots(n)
        return _PROCESS_SLOTS[n]


class ModelGateway:
    """The only way graphs talk to models."""

    def __init__(
        self,
        entries: Sequence[ModelEntry],
        *,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        concurrency: int = 4,
        metrics: ModelMetrics | None = None,
    ) -> None:
        if not entries:
            raise ValueError("a ModelGateway needs at least one model")
        self.entries = list(entries)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.metrics = metrics or ModelMetrics()
        self._slots = process_slots(concurrency)

    @property
    def primary(self) -> ModelEntry:
        return self.entries[0]

    async def acall(
        self,
        build: Callable[[ModelEntry], Runnable[Any, Any]],
        prompt: LanguageModelInput,
    ) -> tuple[Any, list[CallRecord]]:
        """Run ``build(entry)`` on ``prompt`` down the chain; return the output and records."""
        records: list[CallRecord] = []
        for position, entry in enumerate(self.entries):
            if position:
                with self.metrics.lock:
                    self.metrics.fallbacks += 1
            runnable = build(entry)
            for attempt in range(1, self.max_retries + 2):
                usage = _Usage()
                started = time.perf_counter()
                try:
                    async with self._slots:
                        out = await asyncio.wait_for(
                            runnable.ainvoke(prompt, config={"callbacks": [usage]}),
                            self.timeout_s,
                        )
                except Exception as exc:  # noqa: BLE001 - classified and recorded below
                    self._record(records, entry, attempt, started, exc=exc)
                    if await self._retry_after(exc, attempt):
                        continue
                    break
                self._record(records, entry, attempt, started, tokens=(usage.input, usage.output))
                return out, records
        last = records[-1].error if records else "no attempt"
        raise ModelCallError(
            f"every model failed ({', '.join(e.name for e in self.entries)}); last error: {last}",
            records,
        )

    def _record(
        self,
        records: list[CallRecord],
        entry: ModelEntry,
        attempt: int,
        started: float,
        *,
        exc: BaseException | None = None,
        tokens: tuple[int | None, int | None] = (None, None),
        first: float | None = None,
    ) -> CallRecord:
        """One attempt, into the caller's records and the process metrics."""
        rec = CallRecord(
            entry.name,
            attempt,
            time.perf_counter() - started,
            ok=exc is None,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            error=None if exc is None else _describe(exc, self.timeout_s),
            first_token_s=first,
            transient=None if exc is None else is_transient(exc),
            outage=None if exc is None else is_transient(exc) and not isinstance(exc, TimeoutError),
        )
        records.append(rec)
        self.metrics.record(rec)
        return rec

    async def _retry_after(self, exc: BaseException, attempt: int) -> bool:
        """Wait out the backoff and say yes if ``exc`` is worth another try of this model."""
        if not is_transient(exc) or attempt > self.max_retries:
            return False
        with self.metrics.lock:
            self.metrics.retries += 1
        await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        return True

    async def ainvoke(self, prompt: LanguageModelInput) -> tuple[AIMessage, list[CallRecord]]:
        out, records = await self.acall(lambda e: e.model, prompt)
        if not isinstance(out, AIMessage):
            raise TypeError(f"expected an AI message, got {type(out).__name__}")
        message: AIMessage = out
        return message, records

    def invoke(self, prompt: LanguageModelInput) -> tuple[AIMessage, list[CallRecord]]:
        result: tuple[AIMessage, list[CallRecord]] = _run(self.ainvoke(prompt))
        return result

    async def astream(
        self, prompt: LanguageModelInput, records: list[CallRecord] | None = None
    ) -> AsyncIterator[AIMessageChunk]:
        """Stream tokens. Retries and fallbacks apply until the first token has arrived;
        after that a failure ends the stream with ModelCallError. ``records`` (if given)
        receives the call records."""
        records = records if records is not None else []
        for entry in self.entries:
            for attempt in range(1, self.max_retries + 2):
                started = time.perf_counter()
                first: float | None = None
                tokens = 0
                usage: dict[str, Any] | None = None
                try:
                    async with self._slots:
                        stream = entry.model.astream(prompt).__aiter__()
                        # one deadline for the whole call, checked around each chunk's wait
                        # (a timer, not a task per chunk as wait_for would make)
                        deadline = asyncio.get_running_loop().time() + self.timeout_s
                        while True:
                            try:
                                async with asyncio.timeout_at(deadline):
                                    chunk = await stream.__anext__()
                            except StopAsyncIteration:
                                break
                            if chunk.usage_metadata:
                                usage = dict(chunk.usage_metadata)
                            if chunk.content or chunk.tool_call_chunks:
                                tokens += 1
                                if first is None:
                                    first = time.perf_counter() - started
                            yield chunk
                except Exception as exc:
                    rec = self._record(records, entry, attempt, started, exc=exc, first=first)
                    if first is not None:
                        raise ModelCallError(
                            f"{entry.name} failed mid-stream: {rec.error}", records
                        ) from exc
                    if await self._retry_after(exc, attempt):
                        continue
                    break
                counts = (
                    (usage or {}).get("input_tokens"),
                    (usage or {}).get("output_tokens", tokens),
                )
                self._record(records, entry, attempt, started, tokens=counts, first=first)
                return
        last = records[-1].error if records else "no attempt"
        names = ", ".join(e.name for e in self.entries)
        raise ModelCallError(f"every model failed to stream ({names}); last error: {last}", records)


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}"


def _run(coro: Any) -> Any:
    """Run a coroutine from sync code (a sync node, the CLI)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("called the sync model API inside an event loop: use the a* methods")
