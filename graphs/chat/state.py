"""The chat graph's state: the conversation, and what the current answer rests on."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    #: the authenticated customer's profile, the fields chat may see (None: unknown customer)
    profile: dict[str, Any] | None
    #: the passages the answer may cite, numbered from 1: {n, title, doc_id, kb, text, score}
    passages: list[dict[str, Any]]
    #: the passages the latest answer cites by number
    citations: list[dict[str, Any]]
    model_calls: Annotated[list[dict[str, Any]], operator.add]


class GatherState(TypedDict, total=False):
    """The gather subgraph's state: what it reads and fills, and nothing it could repeat
    into the parent (a subgraph hands back its whole state)."""

    messages: Annotated[list[AnyMessage], add_messages]
    profile: dict[str, Any] | None
    passages: list[dict[str, Any]]
