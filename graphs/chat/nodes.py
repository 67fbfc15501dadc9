"""The chat graph's nodes.

Nodes report what they do through the run's custom stream as ``{"event": ..., "data": ...}``
(``tool_call``, ``tool_result``, ``citations``); the answer's tokens reach clients through
LangGraph's ``messages`` stream of the ``respond`` node.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.chat.context import ChatContext
from graphs.chat.facts import facts as computed_facts
from graphs.chat.facts import prompt
from graphs.chat.state import ChatState, GatherState
from ingestion.knowledge.types import Hit
from tools.customers import visible

#: longest passage text put in front of the model: a whole chunk (ingestion cuts documents
#: into chunks of at most 800 characters); three of them fit a small local model's 2k tokens
#: with the profile and the answer. At 700, every chunk lost its last lines (the golden chat
#: cases caught "The limit resets at midnight" never reaching the model).
PASSAGE_CHARS = 800
#: what a client shows a customer while a step runs (never the tool's internal name)
PROGRESS = {
    "customer_lookup": "Looking up your account",
    "search_knowledge": "Searching our policies and offers",
}

#: what the model is told (``prompt.yaml``: versioned with the graph)
SYSTEM = prompt()["system"]
#: what the graph answers by itself when no passage is near the question
UNKNOWN = prompt()["unknown"]


def _emit(runtime: Runtime[ChatContext], event: str, data: dict[str, Any]) -> None:
    runtime.stream_writer({"event": event, "data": data})


def questions_of(state: GatherState) -> list[str]:
    """The customer's messages, latest first."""
    return [
        str(m.text).strip()
        for m in reversed(state.get("messages", []))
        if isinstance(m, HumanMessage) and str(m.text).strip()
    ]


def question_of(state: GatherState) -> str:
    found = questions_of(state)
    return found[0] if found else ""


def interleave(k: int, *rankings: Sequence[Hit]) -> list[Hit]:
    """The first ``k`` distinct chunks, taking from each ranking in turn."""
    out: dict[str, Hit] = {}
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank].chunk_id not in out:
                out[ranking[rank].chunk_id] = ranking[rank]
    return list(out.values())[:k]


async def lookup_customer(state: GatherState, runtime: Runtime[ChatContext]) -> GatherState:
    """The signed-in customer's own profile: the id comes from authentication only."""
    ctx = runtime.context
    if ctx.customer_id is None:
        return {"profile": None}
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    _emit(
        runtime,
        "tool_call",
        {
            "id": call_id,
            "name": "customer_lookup",
            "label": PROGRESS["customer_lookup"],
            "args": {"customer_id": ctx.customer_id},
        },
    )
    profile = await asyncio.to_thread(ctx.tools.profiles.get, ctx.customer_id)
    shown = visible(profile, "chat") if profile is not None else None
    _emit(
        runtime,
        "tool_result",
        {"id": call_id, "name": "customer_lookup", "result": shown, "found": shown is not None},
    )
    return {"profile": shown}


async def retrieve(state: GatherState, runtime: Runtime[ChatContext]) -> GatherState:
    """Policy and offer passages for the latest question (hybrid search).

    A follow-up ("And when do I get the money back?") names nothing the knowledge base
    knows: the latest question is also searched together with the one before it, and
    the two rankings are interleaved, the latest question's first. (The golden chat
    cases found three-turn conversations answered without the passage they needed.)
    """
    ctx = runtime.context
    asked = questions_of(state)
    if not asked:
        return {"passages": []}
    question = asked[0]
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    _emit(
        runtime,
        "tool_call",
        {"id": call_id, "name": "search_knowledge", "label": PROGRESS["search_knowledge"],
         "args": {"question": question, "k": ctx.passages}},
    )  # fmt: skip

    def search() -> tuple[list[Hit], list[float]]:
        queries = [question, *(f"{asked[1]} {question}" for _ in asked[1:2])]
        vectors = [ctx.tools.embedder.embed_query(q) for q in queries]  # each once
        rankings = [ctx.tools.retriever.search(q, v, k=ctx.passages)
                    for q, v in zip(queries, vectors, strict=True)]  # fmt: skip
        hits = interleave(ctx.passages, *rankings)
        return hits, relevance(ctx, vectors, hits)

    hits, near = await asyncio.to_thread(search)
    passages = [
        {
            "n": i,
            "title": h.title,
            "doc_id": h.doc_id,
            "kb": h.kb,
            "text": h.text[:PASSAGE_CHARS],
            "score": round(h.score, 4),
            "relevance": round(r, 4),
        }
        for i, (h, r) in enumerate(zip(hits, near, strict=True), start=1)
    ]
    _emit(
        runtime,
        "tool_result",
        {
            "id": call_id,
            "name": "search_knowledge",
            "result": [{k: p[k] for k in ("n", "title", "doc_id", "kb", "score", "relevance")}
                       for p in passages],
        },
    )  # fmt: skip
    return {"passages": passages}


def relevance(ctx: ChatContext, asked: list[list[float]], hits: list[Hit]) -> list[float]:
    """How near each passage is to the question: the cosine of their embeddings, the
    nearer of the question alone and with the one before it (``asked``: the vectors the
    search used; a follow-up, "So do I qualify?", is about what was asked before). A
    hybrid search ranks by reciprocal rank: its scores say which passage is first, never
    whether any is about the question."""
    if not hits:
        return []
    docs = ctx.tools.embedder.embed([h.text[:PASSAGE_CHARS] for h in hits])
    return [max(_cosine(q, d) for q in asked) for d in docs]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def known(state: ChatState, min_relevance: float) -> bool:
    """Whether the model has something to answer from: a passage near enough the question,
    or the customer's own profile when the question is about it (it names a field of the
    profile, or the profile itself: "what credit score do you have for me?")."""
    if any(p.get("relevance", 1.0) >= min_relevance for p in state.get("passages", [])):
        return True
    profile = state.get("profile") or {}
    asked = question_of(state).lower()
    names = {"profile", *(str(k).replace("_", " ") for k in profile)}
    return bool(profile) and any(name in asked for name in names)


def prompt_of(state: ChatState, history: int) -> list[BaseMessage]:
    profile = state.get("profile")
    facts = (
        "\n".join(f"- {k}: {v}" for k, v in sorted(profile.items()))
        if profile
        else "- (no customer profile: answer in general terms only)"
    )
    given = state.get("passages", [])
    passages = (
        "\n\n".join(f"[{p['n']}] {p['title']}\n{p['text']}" for p in given)
        or "(no passage matched the question)"
    )
    checked = "\n".join(computed_facts(profile, given))
    system = (f"{SYSTEM}\n\nThe customer's profile:\n{facts}\n\n"
              + (f"Facts the bank computed:\n{checked}\n\n" if checked else "")
              + f"Passages:\n{passages}")  # fmt: skip
    convo = [m for m in state.get("messages", []) if isinstance(m, HumanMessage | AIMessage)]
    return [SystemMessage(system), *convo[-history:]]


CITE = re.compile(r"\[(\d{1,2})\]")


#: a source as a client shows it: the passage itself too (a customer opens it)
SOURCE_FIELDS = ("n", "title", "doc_id", "kb", "text")


def cited(answer: str, passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbers = {int(n) for n in CITE.findall(answer)}
    return [{k: p.get(k) for k in SOURCE_FIELDS} for p in passages if p["n"] in numbers]


def valid_citations(answer: str, passages: list[dict[str, Any]]) -> str:
    """The answer without any ``[n]`` that names no passage it was given (a small model
    writes [4] with three passages, or [1] with none)."""
    given = {p["n"] for p in passages}
    kept = CITE.sub(lambda m: m.group(0) if int(m.group(1)) in given else "", answer)
    if kept == answer:  # nothing removed: the model's text as it wrote it
        return answer.strip()
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", kept)).strip()


async def respond(state: ChatState, runtime: Runtime[ChatContext]) -> ChatState:
    """Stream the answer; a model failure raises (the run ends with an error event)."""
    ctx = runtime.context
    records: list[Any] = []
    passages = state.get("passages", [])
    if not known(state, ctx.min_relevance):  # nothing to answer from: say so, offer a person
        answer, passages = UNKNOWN, []
    else:
        parts: list[str] = []
        async for chunk in ctx.gateway.astream(prompt_of(state, ctx.history), records):
            if isinstance(chunk.content, str):
                parts.append(chunk.content)
        answer = valid_citations("".join(parts).strip(), passages)
    citations = cited(answer, passages)
    _emit(
        runtime,
        "citations",
        {
            "cited": citations,
            "sources": [{k: p.get(k) for k in SOURCE_FIELDS} for p in passages],
        },
    )
    return {
        "messages": [AIMessage(answer, id=f"msg-{uuid.uuid4().hex}")],
        "citations": citations,
        "model_calls": [r.as_dict() for r in records],
    }
