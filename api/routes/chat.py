"""Customer chat over SSE: ``POST /chat/{thread_id}`` streams one turn's typed events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from api.auth import Principal
from api.deps import Caller, ThreadOf, Vigil
from api.errors import BadRequestError
from api.runs import Run
from api.sse import last_event_id, run_response
from api.state import AppState
from api.thread_runs import owned_run, run_on_thread
from api.threads import ThreadRef

router = APIRouter(prefix="/chat", tags=["chat"])

RunId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]

SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: metadata, tool_call, tool_result, token, citations, "
        "message, error, end; each with an id to resume from (Last-Event-ID).",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, description="What the customer says.")


class RunStarted(BaseModel):
    run_id: str
    thread_id: str
    stream_url: str


async def _start(vigil: AppState, who: Principal, ref: ThreadRef, body: ChatMessage) -> Run:
    text = body.message.strip()
    if not text:
        raise BadRequestError("the message is blank")
    limit = vigil.settings.api_max_message_chars
    if len(text) > limit:
        raise BadRequestError(f"the message has {len(text)} characters; the limit is {limit}")
    # a new thread is the caller's; staff answering in a customer's thread use it as it is
    if ref.mine(who):
        thread, _ = await vigil.threads.create(
            ref.internal, who.subject, {"graph_id": "chat"}, if_exists="do_nothing"
        )
    else:
        thread = await vigil.threads.owned(ref.internal, who)
    return await run_on_thread(
        vigil, who, ref.internal, "chat",
        lambda _run: vigil.graphs.chat(who, ref.internal, text), on_disconnect="cancel",
        thread=thread,
    )  # fmt: skip


def _stream_url(thread_id: str, run_id: str) -> str:
    return f"/chat/{thread_id}/runs/{run_id}/stream"


@router.post("/{thread_id}", response_class=EventSourceResponse, responses=SSE_DOC)
async def chat(ref: ThreadOf, body: ChatMessage, who: Caller, vigil: Vigil) -> Any:
    """Send a message and stream the answer. A client that disconnects cancels the turn,
    unless it reconnects to the ``Location`` URL with ``Last-Event-ID`` within the grace
    period (VIGIL_API_RECONNECT_GRACE_S)."""
    run = await _start(vigil, who, ref, body)
    url = _stream_url(ref.public, run.run_id)
    return run_response(vigil, run.run_id, 0, "chat", {"Location": url, "X-Run-Id": run.run_id})


@router.post("/{thread_id}/runs", status_code=202)
async def start_chat(ref: ThreadOf, body: ChatMessage, who: Caller, vigil: Vigil) -> RunStarted:
    """Start a turn and attach to it with an EventSource on ``stream_url`` (browsers)."""
    run = await _start(vigil, who, ref, body)
    return RunStarted(
        run_id=run.run_id, thread_id=ref.public, stream_url=_stream_url(ref.public, run.run_id)
    )


@router.get("/{thread_id}/runs/{run_id}/stream", response_class=EventSourceResponse,
            responses=SSE_DOC)  # fmt: skip
async def attach(ref: ThreadOf, run_id: RunId, request: Request, who: Caller, vigil: Vigil) -> Any:
    """Attach or reconnect to a turn: every event after ``Last-Event-ID``."""
    await owned_run(vigil, who, ref.internal, run_id)
    return run_response(vigil, run_id, last_event_id(request), "chat")


@router.get("/{thread_id}/runs/{run_id}")
async def run_status(ref: ThreadOf, run_id: RunId, who: Caller, vigil: Vigil) -> dict[str, Any]:
    """A turn's status (running, success, error, cancelled, timeout), without attaching."""
    meta = await owned_run(vigil, who, ref.internal, run_id)
    out = {k: meta[k] for k in ("run_id", "status", "created_at", "updated_at")}
    return {**out, "thread_id": ref.public}


@router.get("/{thread_id}")
async def conversation(ref: ThreadOf, who: Caller, vigil: Vigil) -> dict[str, Any]:
    """The conversation so far: the thread's messages."""
    thread = await vigil.threads.owned(ref.internal, who)
    values = await vigil.graphs.values(ref.internal)
    messages = [
        {"id": m.get("id"), "role": "user" if m.get("type") == "human" else "assistant",
         "content": m.get("content")}
        for m in values.get("messages", [])
    ]  # fmt: skip
    return {"thread_id": ref.public, "status": thread["status"], "messages": messages}
