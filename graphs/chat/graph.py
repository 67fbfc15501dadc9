"""Wiring of the chat graph: gather (a subgraph: the customer, the passages) -> respond."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.chat import nodes
from graphs.chat.context import ChatContext
from graphs.chat.state import ChatState, GatherState


def build_gather() -> CompiledStateGraph[GatherState, ChatContext, Any, Any]:
    """The customer lookup and the retrieval run side by side."""
    g = StateGraph(GatherState, context_schema=ChatContext)
    g.add_node("lookup_customer", nodes.lookup_customer)
    g.add_node("retrieve", nodes.retrieve)
    g.add_edge(START, "lookup_customer")
    g.add_edge(START, "retrieve")
    g.add_edge("lookup_customer", END)
    g.add_edge("retrieve", END)
    return g.compile()


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[ChatState, ChatContext, Any, Any]:
    g = StateGraph(ChatState, context_schema=ChatContext)
    g.add_node("gather", build_gather())
    g.add_node("respond", nodes.respond)
    g.add_edge(START, "gather")
    g.add_edge("gather", "respond")
    g.add_edge("respond", END)
    return g.compile(checkpointer=checkpointer)
