"""Wiring of the fraud graph: gather -> assess -> gate -> (approval -> effect) | hold | allow."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.fraud import nodes
from graphs.fraud.context import FraudContext
from graphs.fraud.state import FraudState


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[FraudState, FraudContext, Any, Any]:
    g = StateGraph(FraudState, context_schema=FraudContext)
    g.add_node("gather_context", nodes.gather_context)
    g.add_node("assess", nodes.assess)
    g.add_node("policy_gate", nodes.policy_gate)
    g.add_node("request_approval", nodes.request_approval)
    g.add_node("apply_block", nodes.apply_block)
    g.add_node("release", nodes.release)
    g.add_node("fail_safe", nodes.fail_safe)
    g.add_node("hold", nodes.hold)
    g.add_node("allow", nodes.allow)
    g.add_edge(START, "gather_context")
    g.add_edge("gather_context", "assess")
    g.add_edge("assess", "policy_gate")
    g.add_conditional_edges("policy_gate", nodes.route_action)
    g.add_conditional_edges("request_approval", nodes.route_answer)
    for end in ("apply_block", "release", "fail_safe", "hold", "allow"):
        g.add_edge(end, END)
    return g.compile(checkpointer=checkpointer)
