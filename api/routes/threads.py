"""Threads and runs, shaped after LangChain's Agent Protocol (what ``langgraph-sdk`` calls).

Every graph is an assistant (listed, drawn, its schemas read); ``chat`` is the one that runs
here, the others run from their Kafka topics in the agents. A customer reaches only their
own threads; analysts and admins read every thread. Runs stream the requested modes;
``Location`` names the URL to reconnect to with ``Last-Event-ID``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from api.auth import Principal
from api.deps import Caller, ThreadOf, Vigil
from api.errors import BadRequestError, ConflictError, NotFoundError
from api.graph_runs import ASSISTANTS, STREAM_MODES, graph_input
from api.routes.chat import SSE_DOC
from api.runs import TERMINAL, Run
from api.sse import last_event_id, run_response
from api.state import AppState
from api.thread_runs import owned_run, run_on_thread
from api.threads import ThreadRef, shown_id
from graphs import catalog

router = APIRouter(tags=["threads and runs (Agent Protocol)"])

RunId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Json = dict[str, Any]


class ThreadCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    thread_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    metadata: Json = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadSearch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metadata: Json | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0)


class HistoryRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    limit: int = Field(10, ge=1, le=100)


class RunCreate(BaseModel):
    """The Agent Protocol's run request; fields Vigil does not act on are ignored."""

    model_config = ConfigDict(extra="ignore")
    assistant_id: str = "chat"
    input: Json | None = None
    command: Json | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    metadata: Json | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    multitask_strategy: Literal["reject"] | None = None
    if_not_exists: Literal["reject", "create"] | None = None

    def modes(self) -> list[str]:
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        bad = [m for m in modes if m not in STREAM_MODES]
        if bad or not modes:
            raise BadRequestError(
                f"unsupported stream_mode {bad or modes}; supported: {', '.join(STREAM_MODES)}"
            )
        return modes


def _thread_out(thread: Json, who: Principal, values: Json | None = None) -> Json:
    out = {k: thread[k] for k in ("thread_id", "created_at", "updated_at", "metadata", "status")}
    out["thread_id"] = shown_id(who, thread["thread_id"])
    out["values"] = values if values is not None else {}
    out["interrupts"] = {}
    return out


def _run_out(meta: Json, who: Principal) -> Json:
    return {
        "run_id": meta["run_id"],
        "thread_id": shown_id(who, meta["thread_id"]),
        "assistant_id": meta["assistant_id"],
        "created_at": meta["created_at"],
        "updated_at": meta["updated_at"],
        "status": {"cancelled": "interrupted", "timeout": "timeout"}.get(
            meta["status"], "pending" if meta["status"] == "running" else meta["status"]
        ),
        "metadata": meta.get("metadata", {}),
        "multitask_strategy": "reject",
    }


# -- assistants ---------------------------------------------------------------------------


class AssistantSearch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    graph_id: str | None = Field(None, max_length=128)
    metadata: Json | None = None
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0)


@router.post("/assistants/search")
async def search_assistants(who: Caller, body: AssistantSearch | None = None) -> list[Json]:
    """Every graph of Vigil's as an assistant (``langgraph.json`` names the same ones); a
    filter on ``graph_id`` or ``metadata`` keeps those that match."""
    q = body or AssistantSearch()
    found = [_assistant(name) for name in catalog.ENTRIES]
    found = [a for a in found if q.graph_id in (None, a["graph_id"])
             and all(a["metadata"].get(k) == v for k, v in (q.metadata or {}).items())]  # fmt: skip
    return found[q.offset : q.offset + q.limit]


AssistantId = Annotated[str, Path(max_length=128)]


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: AssistantId, who: Caller) -> Json:
    return _assistant(_known(assistant_id))


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(
    assistant_id: AssistantId, who: Caller, xray: Annotated[bool, Query()] = False
) -> Json:
    """The graph's nodes and edges, as LangGraph draws them (``xray``: subgraphs opened)."""
    return catalog.drawing(_known(assistant_id), xray)


@router.get("/assistants/{assistant_id}/schemas")
async def get_assistant_schemas(assistant_id: AssistantId, who: Caller) -> Json:
    """Its input, output and state as JSON Schema; its context by field (Vigil's runtime
    supplies it)."""
    return catalog.schemas(_known(assistant_id))


def _known(assistant_id: str) -> str:
    if assistant_id not in catalog.ENTRIES:
        raise NotFoundError(
            f"no assistant {assistant_id[:128]!r}; assistants: {', '.join(catalog.ENTRIES)}"
        )
    return assistant_id


def _assistant(name: str) -> Json:
    entry = catalog.ENTRIES[name]
    return {"assistant_id": name, "graph_id": name, "name": name,
            "description": entry.description, "config": {}, "context": {},
            "metadata": {"runs_from": entry.runs_from,
                         "runnable_here": name in ASSISTANTS},
            "version": 1, "created_at": "2026-11-01T00:00:00+00:00",
            "updated_at": "2026-11-01T00:00:00+00:00"}  # fmt: skip


# -- threads ------------------------------------------------------------------------------


@router.post("/threads")
async def create_thread(body: ThreadCreate, who: Caller, vigil: Vigil) -> Json:
    ref = ThreadRef.of(who, body.thread_id or str(uuid.uuid4()))
    thread, _ = await vigil.threads.create(ref.internal, who.subject, body.metadata,
                                           if_exists=body.if_exists)  # fmt: skip
    return _thread_out(thread, who)


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, who: Caller, vigil: Vigil) -> list[Json]:
    owner = None if who.staff else who.subject
    found = await vigil.threads.search(
        owner, metadata=body.metadata, status=body.status, limit=body.limit, offset=body.offset
    )
    return [_thread_out(t, who) for t in found]


@router.get("/threads/{thread_id}")
async def get_thread(ref: ThreadOf, who: Caller, vigil: Vigil) -> Json:
    thread = await vigil.threads.owned(ref.internal, who)
    return _thread_out(thread, who, await vigil.graphs.values(ref.internal))


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(ref: ThreadOf, who: Caller, vigil: Vigil) -> None:
    await vigil.threads.owned(ref.internal, who)
    await vigil.deps.checkpointer.adelete_thread(vigil.graphs.config(ref.internal)["configurable"]
                                                 ["thread_id"])  # fmt: skip
    await vigil.threads.delete(ref.internal)


@router.get("/threads/{thread_id}/state")
async def thread_state(ref: ThreadOf, who: Caller, vigil: Vigil) -> Json:
    await vigil.threads.owned(ref.internal, who)
    return await vigil.graphs.state(ref.internal, ref.public)


@router.post("/threads/{thread_id}/history")
async def thread_history(
    ref: ThreadOf, body: HistoryRequest, who: Caller, vigil: Vigil
) -> list[Json]:
    await vigil.threads.owned(ref.internal, who)
    return await vigil.graphs.history(ref.internal, ref.public, body.limit)


@router.get("/threads/{thread_id}/history")
async def thread_history_get(
    ref: ThreadOf, who: Caller, vigil: Vigil,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[Json]:  # fmt: skip
    await vigil.threads.owned(ref.internal, who)
    return await vigil.graphs.history(ref.internal, ref.public, limit)


# -- runs ---------------------------------------------------------------------------------


async def _start(
    vigil: AppState, who: Principal, ref: ThreadRef, body: RunCreate, *, streaming: bool
) -> Run:
    if body.assistant_id not in ASSISTANTS:
        entry = catalog.ENTRIES.get(body.assistant_id)
        if entry is None:
            _known(body.assistant_id)
        raise ConflictError(
            f"assistant {body.assistant_id!r} does not run through the API: its runs start "
            f"from {entry.runs_from if entry else '?'}; runs here: {', '.join(ASSISTANTS)}"
        )
    modes = body.modes()
    inp = graph_input(body.input, body.command, max_chars=vigil.settings.api_max_message_chars)
    if await vigil.threads.get(ref.internal) is None and body.if_not_exists == "create":
        await vigil.threads.create(ref.internal, who.subject, {"graph_id": body.assistant_id})
    thread = await vigil.threads.owned(ref.internal, who)
    if (
        not isinstance(inp, dict)
        and not (await vigil.graphs.state(ref.internal, ref.public))["next"]
    ):
        raise BadRequestError(
            f"thread {ref.public} is not interrupted, so there is nothing to resume: "
            "send input.messages"
        )

    return await run_on_thread(
        vigil,
        who,
        ref.internal,
        body.assistant_id,
        lambda _run: vigil.graphs.protocol(
            who,
            ref.internal,
            graph_input=inp,
            modes=modes,
            subgraphs=body.stream_subgraphs,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
        ),
        # a background run has no client to lose; a streamed one ends with its clients
        on_disconnect=(body.on_disconnect or "cancel") if streaming else "continue",
        metadata=body.metadata,
        thread=thread,
    )


@router.post("/threads/{thread_id}/runs")
async def create_run(ref: ThreadOf, body: RunCreate, who: Caller, vigil: Vigil) -> Json:
    """Start a run in the background; poll it, join it or stream it."""
    run = await _start(vigil, who, ref, body, streaming=False)
    return _run_out(run.meta, who)


@router.post("/threads/{thread_id}/runs/stream", response_class=EventSourceResponse,
             responses=SSE_DOC)  # fmt: skip
async def stream_run(ref: ThreadOf, body: RunCreate, who: Caller, vigil: Vigil) -> Any:
    run = await _start(vigil, who, ref, body, streaming=True)
    url = f"/threads/{ref.public}/runs/{run.run_id}/stream"
    headers = {"Location": url, "Content-Location": url, "X-Run-Id": run.run_id}
    return run_response(vigil, run.run_id, 0, "run", headers)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(ref: ThreadOf, body: RunCreate, who: Caller, vigil: Vigil) -> Json:
    """Run to the end and return the thread's values."""
    run = await _start(vigil, who, ref, body, streaming=False)
    await vigil.hub.wait(run.run_id)
    return await vigil.graphs.values(ref.internal)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    ref: ThreadOf, who: Caller, vigil: Vigil,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[Json]:  # fmt: skip
    await vigil.threads.owned(ref.internal, who)
    return [_run_out(m, who) for m in await vigil.hub.thread_runs(ref.internal, limit)]


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(ref: ThreadOf, run_id: RunId, who: Caller, vigil: Vigil) -> Json:
    return _run_out(await owned_run(vigil, who, ref.internal, run_id), who)


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_class=EventSourceResponse,
            responses=SSE_DOC)  # fmt: skip
async def join_stream(
    ref: ThreadOf, run_id: RunId, request: Request, who: Caller, vigil: Vigil
) -> Any:
    """Reconnect to a run's stream: every event after ``Last-Event-ID``."""
    await owned_run(vigil, who, ref.internal, run_id)
    return run_response(vigil, run_id, last_event_id(request), "run")


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(ref: ThreadOf, run_id: RunId, who: Caller, vigil: Vigil) -> Json:
    """Wait for the run to end; the thread's values."""
    await owned_run(vigil, who, ref.internal, run_id)
    await vigil.hub.wait(run_id)
    return await vigil.graphs.values(ref.internal)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(ref: ThreadOf, run_id: RunId, who: Caller, vigil: Vigil) -> Json:
    meta = await owned_run(vigil, who, ref.internal, run_id)
    if meta["status"] in TERMINAL:
        return _run_out(meta, who)
    return _run_out(await vigil.hub.cancel(run_id), who)
