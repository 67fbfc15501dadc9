"""The official ``langgraph-sdk`` client against the app: threads, runs, streams, resume."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from typing import Any

import httpx
from langgraph.graph.state import CompiledStateGraph
from langgraph_cli.config import validate_config_file
from langgraph_sdk import get_client

from tests.api.conftest import KEYS, Api
from tests.conftest import ROOT


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


def test_the_sdk_lists_and_inspects_every_graph_langgraph_json_names(api: Api) -> None:
    """langgraph.json (validated by LangGraph's own CLI) and the API's assistants name the
    same graphs; the SDK draws each and reads its schemas; only chat runs through the API."""
    config = validate_config_file(ROOT / "langgraph.json")
    for name, target in config["graphs"].items():  # each path loads the graph it names
        assert isinstance(target, str), name
        path, _, attr = target.partition(":")
        spec = importlib.util.spec_from_file_location(f"langgraph_json_{name}", ROOT / path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as LangGraph's server loads a file
        try:
            spec.loader.exec_module(module)
            assert isinstance(getattr(module, attr), CompiledStateGraph), name
        finally:
            del sys.modules[spec.name]

    async def scenario() -> dict[str, Any]:
        client = sdk(api, "analyst")
        out: dict[str, Any] = {
            "all": await client.assistants.search(),
            "fraud_only": await client.assistants.search(graph_id="fraud"),
            "fraud": await client.assistants.get("fraud"),
            "drawn": await client.assistants.get_graph("fraud"),
            "xray": await client.assistants.get_graph("chat", xray=True),
            "schemas": await client.assistants.get_schemas("chat"),
        }
        thread = await client.threads.create()
        try:
            await client.runs.create(thread["thread_id"], "fraud", input={})
        except httpx.HTTPStatusError as exc:
            out["run_fraud"] = (exc.response.status_code, exc.response.json()["detail"])
        try:
            await client.assistants.get("nope/../x")
        except httpx.HTTPStatusError as exc:
            out["unknown"] = exc.response.status_code
        return out

    got = asyncio.run(scenario())
    assert [a["assistant_id"] for a in got["all"]] == list(config["graphs"])
    assert [a["graph_id"] for a in got["fraud_only"]] == ["fraud"]
    assert got["fraud"]["metadata"]["runnable_here"] is False
    nodes = {n["id"] for n in got["drawn"]["nodes"]}
    assert {"gather_context", "assess", "policy_gate", "request_approval", "apply_block"} <= nodes
    assert ("policy_gate", "request_approval") in {(e["source"], e["target"])
                                                   for e in got["drawn"]["edges"]}  # fmt: skip
    assert {"gather:lookup_customer", "gather:retrieve", "respond"} <= {
        n["id"] for n in got["xray"]["nodes"]}  # fmt: skip
    schemas = got["schemas"]
    assert "messages" in schemas["input_schema"]["properties"]
    assert set(schemas["context_schema"]["properties"]) >= {"tools", "gateway"}
    status, detail = got["run_fraud"]
    assert status == 409
    assert "does not run through the API" in detail
    assert "fraud agent's escalations topic" in detail
    assert got["unknown"] == 404
