"""The official ``langgraph-sdk`` client against the app: threads, runs, streams, resume."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph_sdk import get_client

from tests.api.conftest import KEYS, Api


def sdk(api: Api, who: str = "john") -> Any:
    return get_client(url=api.url, api_key=KEYS[who][0])


def test_the_sdk_creates_a_thread_and_streams_a_chat_run(api: Api) -> None:
    async def scenario() -> tuple[Any, list[Any], Any, Any, Any]:
        client = sdk(api)
        thread = await client.threads.create(metadata={"channel": "sdk"})
        parts = [
            part
            async for part in client.runs.stream(
                thread["thread_id"],
                "chat",
                input={"messages": [{"role": "user", "content": "Do you offer 0% financing?"}]},
                stream_mode=["messages-tuple", "values", "custom"],
            )
        ]
        state = await client.threads.get_state(thread["thread_id"])
        found = await client.threads.search(metadata={"channel": "sdk"})
        history = await client.threads.get_history(thread["thread_id"], limit=3)
        return thread, parts, state, found, history

    thread, parts, state, found, history = asyncio.run(scenario())
    events = [p.event for p in parts]
    assert events[0] == "metadata"
    assert events[-1] == "end"
    run_id = parts[0].data["run_id"]
    assert parts[-1].data == {"run_id": run_id, "status": "success"}
    tokens = [
        p.data[0]["content"]
        for p in parts
        if p.event == "messages" and p.data[0]["type"] == "AIMessageChunk"
    ]
    last_values = [p.data for p in parts if p.event == "values"][-1]
    answer = last_values["messages"][-1]
    assert answer["type"] == "ai"
    assert "".join(tokens) == answer["content"]
    # custom events of the top graph; the gather subgraph's tool calls need stream_subgraphs
    assert [p.data["event"] for p in parts if p.event == "custom"] == ["citations"]
    assert state["values"]["messages"][-1]["content"] == answer["content"]
    assert state["next"] == []
    assert [t["thread_id"] for t in found] == [thread["thread_id"]]
    assert 1 <= len(history) <= 3


def test_a_run_interrupted_before_answering_resumes(api: Api) -> None:
    async def scenario() -> tuple[Any, Any, int, list[Any], Any]:
        client = sdk(api)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        run = await client.runs.create(
            tid, "chat",
            input={"messages": [{"role": "user", "content": "What about refunds?"}]},
            interrupt_before=["respond"],
        )  # fmt: skip
        await client.runs.join(tid, run["run_id"])
        paused = await client.threads.get_state(tid)
        status = (await client.threads.get(tid))["status"]
        asked = len(api.model.calls)
        resumed = [p async for p in client.runs.stream(tid, "chat", stream_mode="values")]
        return paused, status, asked, resumed, await client.threads.get_state(tid)

    paused, status, asked_while_paused, resumed, final = asyncio.run(scenario())
    assert paused["next"] == ["respond"]
    assert status == "interrupted"
    assert asked_while_paused == 0
    assert resumed[-1].event == "end"
    assert resumed[-1].data["status"] == "success"
    assert final["next"] == []
    assert [m["type"] for m in final["values"]["messages"]] == ["human", "ai"]
    assert len(api.model.calls) == 1
