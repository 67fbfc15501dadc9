"""A graph run with an agent's own run config, in a process whose environment turns
LangSmith tracing on (``test_langsmith``): LangChain reads the variables at start."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from langchain_core.tracers.langchain import wait_for_all_tracers
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from agents.core import AgentWorker


class State(TypedDict):
    x: int


def main() -> None:
    graph = StateGraph(State)
    graph.add_node("judge", lambda s: {"x": s["x"] + 1})
    graph.add_edge(START, "judge")
    graph.add_edge("judge", END)
    fake: Any = SimpleNamespace(name="fraud")
    config = AgentWorker.config(fake, sys.argv[1])  # what the fraud agent runs its graph with
    graph.compile().invoke({"x": 1}, config)
    wait_for_all_tracers()


if __name__ == "__main__":
    main()
