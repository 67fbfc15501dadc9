"""Wiring of the monitoring graph: find affected -> draft -> publish."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.monitoring import nodes
from graphs.monitoring.context import MonitoringContext
from graphs.monitoring.state import MonitoringState


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[MonitoringState, MonitoringContext, Any, Any]:
    g = StateGraph(MonitoringState, context_schema=MonitoringContext)
    g.add_node("find_affected", nodes.find_affected)
    g.add_node("draft", nodes.draft)
    g.add_node("publish", nodes.publish)
    g.add_edge(START, "find_affected")
    g.add_edge("find_affected", "draft")
    g.add_edge("draft", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=checkpointer)
