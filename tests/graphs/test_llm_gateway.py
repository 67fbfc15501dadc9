"""Guard rails, typed answers and the scripted fake, with no real model anywhere."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field

from graphs.llm import ModelCallError, ModelEntry, ModelGateway, astructured, structured
from graphs.llm.fake import Hang, ScriptedChatModel, ScriptExhaustedError
from graphs.llm.guard import RealModelRequestBlockedError


class Verdict(BaseModel):
    risk: float = Field(ge=0, le=1)
    action: str
    rationale: str


def gw(*models: ScriptedChatModel, structured: Any = "json", **kw: Any) -> ModelGateway:
    entries = [ModelEntry(f"m{i}", m, structured=structured) for i, m in enumerate(models)]
    kw.setdefault("backoff_s", 0.01)
    return ModelGateway(entries, **kw)


def test_scripted_model_streams_words_and_tool_calls() -> None:
    call = {"name": "lookup", "args": {"customer_id": "cust-john"}, "id": "c1"}
    model = ScriptedChatModel(script=["hello there world", AIMessage("", tool_calls=[call])])
    chunks = list(model.stream("hi"))
    assert "".join(str(c.content) for c in chunks) == "hello there world"
    assert len([c for c in chunks if c.content]) == 5  # words and the spaces between
    merged: Any = None
    for c in model.stream("who?"):
        merged = c if merged is None else merged + c
    assert isinstance(merged, AIMessageChunk)
    assert merged.tool_calls[0]["name"] == "lookup"
    assert merged.tool_calls[0]["args"] == {"customer_id": "cust-john"}
    assert [str(m[-1].content) for m in model.calls] == ["hi", "who?"]


def test_scripted_model_binds_tools_and_says_when_the_script_runs_out() -> None:
    def lookup(customer_id: str) -> str:
        """Look a customer up."""
        return customer_id

    model = ScriptedChatModel(script=["ok"])
    bound = model.bind_tools([lookup])
    assert bound.invoke("x").content == "ok"
    assert model.bound_tools[0]["function"]["name"] == "lookup"
    with pytest.raises(ScriptExhaustedError, match="script has 1 replies"):
        model.invoke("again")


def test_transient_errors_are_retried_with_backoff() -> None:
    model = ScriptedChatModel(script=[ConnectionError("reset"), TimeoutError(), "fine"])
    gateway = gw(model, max_retries=2)
    msg, records = gateway.invoke("hello")
    assert msg.content == "fine"
    assert [r.ok for r in records] == [False, False, True]
    assert gateway.metrics.snapshot()["retries"] == 2


def test_retries_are_bounded_then_the_fallback_answers() -> None:
    primary = ScriptedChatModel(script=[ConnectionError("down")] * 3)
    fallback = ScriptedChatModel(script=["from the fallback"])
    gateway = gw(primary, fallback, max_retries=1)
    msg, records = gateway.invoke("hello")
    assert msg.content == "from the fallback"
    assert [(r.model, r.ok) for r in records] == [("m0", False), ("m0", False), ("m1", True)]
    assert gateway.metrics.snapshot()["fallbacks"] == 1


def test_a_non_transient_error_is_not_retried() -> None:
    primary = ScriptedChatModel(script=[ValueError("prompt too long"), "never reached"])
    gateway = gw(primary, max_retries=3)
    with pytest.raises(ModelCallError, match="prompt too long") as info:
        gateway.invoke("hello")
    assert len(info.value.records) == 1


def test_a_hanging_model_times_out_and_the_retry_answers() -> None:
    model = ScriptedChatModel(script=[Hang(5.0), "on time"])
    gateway = gw(model, timeout_s=0.2, max_retries=1)
    started = time.monotonic()
    msg, records = gateway.invoke("hello")
    assert time.monotonic() - started < 2
    assert msg.content == "on time"
    assert records[0].error == "timed out after 0.2 s"


class SlowModel(ScriptedChatModel):
    in_flight: int = 0
    peak: int = 0

    async def _agenerate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.05)
        self.in_flight -= 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage("done"))])


def test_concurrency_is_capped_per_process() -> None:
    model = SlowModel()
    # two gateways in one process share the cap
    one = ModelGateway([ModelEntry("slow", model)], concurrency=3)
    two = ModelGateway([ModelEntry("slow", model)], concurrency=3)

    async def many() -> None:
        await asyncio.gather(*(g.ainvoke("x") for g in (one, two) for _ in range(6)))

    asyncio.run(many())
    assert model.peak == 3


def test_tokens_and_latency_are_accounted() -> None:
    model = ScriptedChatModel(script=["three word answer"])
    gateway = gw(model)
    _msg, [rec] = gateway.invoke("a four word question")
    assert (rec.input_tokens, rec.output_tokens) == (4, 3)
    assert rec.latency_s > 0
    snap = gateway.metrics.snapshot()
    assert (snap["input_tokens"], snap["output_tokens"]) == (4, 3)
    assert snap["calls"] == {"m0": 1}
    assert sum(snap["latency_buckets"].values()) >= 1


def test_streaming_retries_before_the_first_token() -> None:
    model = ScriptedChatModel(script=[ConnectionError("reset"), "streamed reply here"])
    gateway = gw(model)
    records: list[Any] = []

    async def collect() -> list[str]:
        return [str(c.content) async for c in gateway.astream("hi", records)]

    tokens = asyncio.run(collect())
    assert "".join(tokens) == "streamed reply here"
    assert [r.ok for r in records] == [False, True]
    assert records[-1].first_token_s is not None


class BreaksMidStream(ScriptedChatModel):
    async def _astream(self, *a: Any, **k: Any) -> Any:
        from langchain_core.outputs import ChatGenerationChunk

        yield ChatGenerationChunk(message=AIMessageChunk(content="partial"))
        raise ConnectionError("dropped")


def test_a_stream_broken_after_the_first_token_fails_loudly() -> None:
    gateway = gw(BreaksMidStream(), max_retries=2)

    async def collect() -> list[str]:
        return [str(c.content) async for c in gateway.astream("hi")]

    with pytest.raises(ModelCallError, match="mid-stream"):
        asyncio.run(collect())


GOOD = '{"risk": 0.97, "action": "block", "rationale": "19,328 mph"}'


def test_structured_answer_first_time() -> None:
    model = ScriptedChatModel(script=[f"```json\n{GOOD}\n```"])
    result = structured(gw(model), Verdict, "assess")
    assert result.ok
    assert result.value == Verdict(risk=0.97, action="block", rationale="19,328 mph")
    assert result.attempts == 1
    assert "JSON schema" in str(model.calls[0][0].content)  # the schema was in the prompt


def test_structured_retries_once_with_the_validation_error() -> None:
    model = ScriptedChatModel(script=['{"risk": 7, "action": "block"}', GOOD])
    result = structured(gw(model), Verdict, "assess")
    assert result.ok
    assert result.attempts == 2
    retry_prompt = str(model.calls[1][-1].content)
    assert "not valid" in retry_prompt
    assert "risk" in retry_prompt
    assert "rationale" in retry_prompt


def test_structured_gives_a_typed_failure_on_garbage() -> None:
    model = ScriptedChatModel(script=["I think it is fraud.", "Definitely fraud!"])
    result = structured(gw(model), Verdict, "assess")
    assert not result.ok
    assert result.value is None
    assert result.error is not None
    assert result.error.startswith("invalid answer after 2 attempts")
    assert len(result.calls) == 2


def test_structured_reports_a_dead_model_as_a_typed_failure() -> None:
    model = ScriptedChatModel(script=[ValueError("401 unauthorized")])
    result = asyncio.run(astructured(gw(model), Verdict, "assess"))
    assert not result.ok
    assert result.error is not None
    assert "no model answered" in result.error


def test_structured_native_path_uses_a_forced_tool_call() -> None:
    call = {
        "name": "Verdict",
        "args": {"risk": 0.2, "action": "allow", "rationale": "home city"},
        "id": "t1",
    }
    model = ScriptedChatModel(script=[AIMessage("", tool_calls=[call])])
    result = structured(gw(model, structured="native"), Verdict, "assess")
    assert result.ok
    assert result.value is not None
    assert result.value.action == "allow"
    assert model.bound_tools[0]["function"]["name"] == "Verdict"


def test_the_guard_blocks_a_real_provider_in_tests() -> None:
    from langchain_openai import ChatOpenAI

    real = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(RealModelRequestBlockedError, match="ChatOpenAI"):
        real.invoke("hello")
    with pytest.raises(RealModelRequestBlockedError):
        list(real.stream("hello"))
    # through the gateway it is a non-transient failure, so no retries are wasted on it
    gateway = ModelGateway([ModelEntry("openai", real)], max_retries=3)
    with pytest.raises(ModelCallError, match="blocked") as info:
        gateway.invoke("hello")
    assert len(info.value.records) == 1
