"""Running the chat graph for a caller, and turning its stream into API events.

Two shapes of the same run: the chat API's typed events (``token``, ``tool_call``,
``tool_result``, ``citations``, ``message``), and the Agent Protocol's stream modes
(``values``, ``updates``, ``messages``, ``custom``) that ``langgraph-sdk`` reads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, StreamMode

from api.auth import Principal
from api.errors import BadRequestError
from api.jsonable import jsonable
from api.resources import ApiDeps
from api.threads import ThreadStore
from graphs.chat import ChatContext, build_graph

#: Agent Protocol stream modes -> LangGraph's (``messages`` is sent as message tuples)
STREAM_MODES: dict[str, StreamMode] = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "messages": "messages",
    "messages-tuple": "messages",
}
ASSISTANTS = ("chat",)
USER_ROLES = frozenset({"user", "human"})


class ChatGraphs:
    def __init__(
        self, deps: ApiDeps, *, passages: int, history: int, min_relevance: float = 0.0
    ) -> None:
        self.deps = deps
        self.graph = build_graph(checkpointer=deps.checkpointer)
        self.passages_n = passages
        self.history_n = history
        self.min_relevance = min_relevance

    def context(self, principal: Principal) -> ChatContext:
        """The customer comes from authentication, never from what the caller sends."""
        return ChatContext(
            tools=self.deps.tools,
            gateway=self.deps.gateway,
            customer_id=principal.customer_id,
            passages=self.passages_n,
            history=self.history_n,
            min_relevance=self.min_relevance,
        )

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": ThreadStore.checkpoint_id(thread_id)}}

    async def chat(
        self, principal: Principal, thread_id: str, message: str
    ) -> AsyncIterator[tuple[str, Any]]:
        """One customer turn as typed chat events."""
        question = {"messages": [HumanMessage(message, id=f"msg-{uuid.uuid4().hex}")]}
        stream: AsyncIterator[Any] = self.graph.astream(
            question,
            self.config(thread_id),
            context=self.context(principal),
            stream_mode=["messages", "custom", "updates"],
            subgraphs=True,
        )
        async for ns, mode, chunk in stream:
            if mode == "messages":
                msg, meta = chunk
                if (
                    isinstance(msg, AIMessageChunk)
                    and meta.get("langgraph_node") == "respond"
                    and isinstance(msg.content, str)
                    and msg.content
                ):
                    yield "token", {"text": msg.content}
            elif mode == "custom":
                yield chunk["event"], chunk["data"]
            elif mode == "updates" and not ns and "respond" in chunk:
                update = chunk["respond"]
                answer = update["messages"][-1]
                yield (
                    "message",
                    {
                        "id": answer.id,
                        "role": "assistant",
                        "content": answer.content,
                        "citations": update.get("citations", []),
                    },
                )

    async def protocol(
        self,
        principal: Principal,
        thread_id: str,
        *,
        graph_input: Any,
        modes: Sequence[str],
        subgraphs: bool,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """An Agent Protocol run: the requested stream modes, named as the SDK expects."""
        config = self.config(thread_id)
        stream: AsyncIterator[Any] = self.graph.astream(
            graph_input,
            config,
            context=self.context(principal),
            stream_mode=sorted({STREAM_MODES[m] for m in modes}),
            subgraphs=True,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        async for ns, mode, chunk in stream:
            if ns and not subgraphs:
                continue
            name = mode + ("|" + "|".join(ns) if ns else "")
            if mode == "messages":
                msg, meta = chunk
                yield name, [jsonable(msg), _public_meta(meta)]
            else:
                yield name, jsonable(chunk)
        state = await self.graph.aget_state(config)
        if state.next or state.interrupts:
            yield "status", "interrupted"

    async def values(self, thread_id: str) -> dict[str, Any]:
        state = await self.graph.aget_state(self.config(thread_id))
        return dict(jsonable(state.values) or {})

    async def state(self, thread_id: str, shown: str) -> dict[str, Any]:
        """``thread_id``: the stored id; ``shown``: the id the caller named it by."""
        return snapshot(await self.graph.aget_state(self.config(thread_id)), shown)

    async def history(self, thread_id: str, shown: str, limit: int) -> list[dict[str, Any]]:
        out = []
        async for snap in self.graph.aget_state_history(self.config(thread_id), limit=limit):
            out.append(snapshot(snap, shown))
        return out


def snapshot(snap: Any, thread_id: str) -> dict[str, Any]:
    """A LangGraph StateSnapshot in the Agent Protocol's ThreadState shape."""
    conf = (snap.config or {}).get("configurable", {})
    parent = (snap.parent_config or {}).get("configurable", {}) if snap.parent_config else None
    return {
        "values": jsonable(snap.values),
        "next": list(snap.next),
        "tasks": [
            {"id": t.id, "name": t.name, "interrupts": jsonable(t.interrupts)}
            for t in snap.tasks
        ],
        "interrupts": jsonable(list(snap.interrupts)),
        "metadata": jsonable(snap.metadata),
        "created_at": snap.created_at,
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": conf.get("checkpoint_id"),
        },
        "parent_checkpoint": (
            {"thread_id": thread_id, "checkpoint_ns": parent.get("checkpoint_ns", ""),
             "checkpoint_id": parent.get("checkpoint_id")}
            if parent else None
        ),
    }  # fmt: skip


def _public_meta(meta: dict[str, Any]) -> dict[str, Any]:
    keep = ("langgraph_node", "langgraph_step", "langgraph_triggers", "run_id", "tags")
    return {k: jsonable(v) for k, v in meta.items() if k in keep}


#: the most user messages one run may send
MAX_MESSAGES = 20
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def graph_input(
    body_input: dict[str, Any] | None, command: dict[str, Any] | None, *, max_chars: int
) -> Any:
    """What a run may feed the chat graph: new user messages (each at most ``max_chars``,
    as on /chat; ids of letters, digits and ._:-), or a resume. Nothing else: the profile
    and passages are the graph's own, and nobody writes the assistant's lines."""
    if body_input is not None and command is not None:
        raise BadRequestError("send input or command, not both")
    if command is not None:
        extra = set(command) - {"resume"}
        if extra:
            raise BadRequestError(f"only command.resume is supported, not {sorted(extra)}")
        return Command(resume=command.get("resume"))
    if body_input is None:
        return None  # continue from where the thread was interrupted
    extra = set(body_input) - {"messages"}
    if extra:
        raise BadRequestError(f"input may only carry 'messages', not {sorted(extra)}")
    raw = body_input.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequestError("input.messages must be a non-empty list of user messages")
    if len(raw) > MAX_MESSAGES:
        raise BadRequestError(
            f"input.messages has {len(raw)} messages; the limit is {MAX_MESSAGES}"
        )
    messages = []
    for i, m in enumerate(raw):
        if isinstance(m, str):
            m = {"role": "user", "content": m}
        if not isinstance(m, dict):
            raise BadRequestError(f"input.messages[{i}] must be an object with role and content")
        role = m.get("role", m.get("type"))
        content = m.get("content")
        if role not in USER_ROLES:
            raise BadRequestError(
                f"input.messages[{i}]: only user messages may be sent, not {role!r}"
            )
        if not isinstance(content, str) or not content.strip():
            raise BadRequestError(f"input.messages[{i}].content must be non-empty text")
        if len(content) > max_chars:
            raise BadRequestError(
                f"input.messages[{i}] has {len(content)} characters; the limit is {max_chars}"
            )
        given = m.get("id")
        if given is not None and (not isinstance(given, str) or not _MESSAGE_ID.match(given)):
            raise BadRequestError(
                f"input.messages[{i}].id must be 1-128 letters, digits and ._:- (or left out)"
            )
        messages.append(HumanMessage(content, id=given or f"msg-{uuid.uuid4().hex}"))
    return {"messages": messages}
