"""A graph that pauses twice for approval (once in a subgraph), one stage per process.

Run as ``python -m tests.graphs.approval_proc start|resume THREAD [ANSWER]``; the
checkpointer comes from the VIGIL_* environment, as in any Vigil process. Prints the
state it leaves behind as JSON.
"""

from __future__ import annotations

import json
import operator
import os
import sys
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from graphs.checkpointer import make_checkpointer
from vigil.settings import Settings


class State(TypedDict, total=False):
    request: str
    decisions: Annotated[list[str], operator.add]
    pids: Annotated[list[int], operator.add]
    second: str
    note: str


class EscalationState(TypedDict, total=False):
    """The subgraph's own schema: it shares ``request`` and answers in ``second``."""

    request: str
    second: str


def first_review(state: State) -> State:
    answer = interrupt({"step": "first", "request": state["request"]})
    return {"decisions": [f"first:{answer}"], "pids": [os.getpid()]}


def second_review(state: EscalationState) -> EscalationState:
    answer = interrupt({"step": "second", "request": state["request"]})
    return {"second": f"{answer}@{os.getpid()}"}


def finish(state: State) -> State:
    answer, _, pid = state["second"].partition("@")
    return {"decisions": [f"second:{answer}"], "pids": [int(pid), os.getpid()], "note": "done"}


def build() -> CompiledStateGraph[Any, Any, Any, Any]:
    sub = StateGraph(EscalationState)
    sub.add_node("second_review", second_review)
    sub.add_edge(START, "second_review")
    sub.add_edge("second_review", END)

    g = StateGraph(State)
    g.add_node("first_review", first_review)
    g.add_node("escalation", sub.compile())
    g.add_node("finish", finish)
    g.add_edge(START, "first_review")
    g.add_edge("first_review", "escalation")
    g.add_edge("escalation", "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=make_checkpointer(Settings(_env_file=None)))


def main() -> None:
    stage, thread = sys.argv[1], sys.argv[2]
    graph = build()
    config: Any = {"configurable": {"thread_id": thread}}
    resumed = None
    if stage == "start":
        graph.invoke({"request": "block tx-2"}, config)
    else:
        pending = graph.get_state(config).interrupts
        if len(pending) != 1:
            raise SystemExit(f"expected one pending interrupt, found {len(pending)}")
        resumed = pending[0].id
        graph.invoke(Command(resume={resumed: sys.argv[3]}), config)
    snap = graph.get_state(config, subgraphs=True)
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "resumed": resumed,
                "values": snap.values,
                "next": list(snap.next),
                "interrupts": [{"id": i.id, "value": i.value} for i in snap.interrupts],
                "task_namespaces": [t.name for t in snap.tasks],
                "history": [
                    {
                        "step": (h.metadata or {}).get("step"),
                        "source": (h.metadata or {}).get("source"),
                    }
                    for h in graph.get_state_history(config)
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
