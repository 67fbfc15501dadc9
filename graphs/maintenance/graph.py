"""Wiring of the maintenance graph: gather -> draft -> gate -> (approval) -> publish."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.maintenance import nodes
from graphs.maintenance.context import MaintenanceContext
from graphs.maintenance.state import MaintenanceState


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[MaintenanceState, MaintenanceContext, Any, Any]:
    g = StateGraph(MaintenanceState, context_schema=MaintenanceContext)
    g.add_node("gather_context", nodes.gather_context)
    g.add_node("draft", nodes.draft)
    g.add_node("policy_gate", nodes.policy_gate)
    g.add_node("request_approval", nodes.request_approval)
    g.add_node("publish", nodes.publish)
    g.add_edge(START, "gather_context")
    g.add_edge("gather_context", "draft")
    g.add_edge("draft", "policy_gate")
    g.add_conditional_edges("policy_gate", nodes.route_order)
    g.add_edge("request_approval", "publish")
    g.add_edge("publish", END)
    return g.compile(checkpointer=checkpointer)
