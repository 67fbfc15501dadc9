"""Vigil's graphs by name: what ``langgraph.json`` points LangGraph's CLI and Studio at, and
what the API's Agent Protocol lists as assistants.

Each module-level graph is compiled without a checkpointer, for reading its shape and
schemas. Running a graph needs Vigil's runtime context (its tools, stores and model
gateway, the ``context_schema`` of each): ``chat`` runs through the API's threads and runs,
the others run from their Kafka topics in the agents. A graph's context is described here
by its fields (the stores are Python objects, not JSON)."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from graphs.chat.graph import build_graph as _chat
from graphs.fraud.graph import build_graph as _fraud
from graphs.maintenance.graph import build_graph as _maintenance
from graphs.monitoring.graph import build_graph as _monitoring


@dataclass(frozen=True)
class GraphEntry:
    name: str
    description: str
    #: how its runs start: through the API, or from a Kafka topic in the agents
    runs_from: str


ENTRIES: dict[str, GraphEntry] = {
    e.name: e
    for e in (
        GraphEntry("chat", "Answers a customer: looks up their profile and searches the "
                   "policies side by side, then streams a cited answer.", "api"),
        GraphEntry("fraud", "Judges an escalated payment: the rules' floor, the model's "
                   "assessment, and a block proposal that waits for an analyst.",
                   "agents: the fraud agent's escalations topic"),
        GraphEntry("maintenance", "Drafts a work order for an asset found degrading and asks "
                   "an approver before stopping it.",
                   "agents: the maintenance agent's sensor readings topic"),
        GraphEntry("monitoring", "Finds who an outside signal (a storm, an outage) affects, "
                   "drafts their alerts and sends each once.",
                   "agents: the monitoring agent's signals topic"),
    )
}  # fmt: skip

#: the graphs, as LangGraph's CLI loads them (``langgraph.json``)
chat = _chat()
fraud = _fraud()
maintenance = _maintenance()
monitoring = _monitoring()
GRAPHS: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {
    "chat": chat, "fraud": fraud, "maintenance": maintenance, "monitoring": monitoring,
}  # fmt: skip


@functools.cache
def schemas(name: str) -> dict[str, Any]:
    """The Agent Protocol's schemas of a graph: input, output and state as JSON Schema, the
    context by its fields (supplied by Vigil's runtime, never by a caller)."""
    graph = GRAPHS[name]
    context = graph.builder.context_schema
    fields = dataclasses.fields(context) if context and dataclasses.is_dataclass(context) else ()
    return {
        "graph_id": name,
        "input_schema": graph.get_input_jsonschema(),
        "output_schema": graph.get_output_jsonschema(),
        "state_schema": graph.get_output_jsonschema(),
        "config_schema": None,
        "context_schema": {
            "title": getattr(context, "__name__", "Context"),
            "description": "Supplied by Vigil's runtime (tools, stores, the model gateway); "
            "not settable by a caller.",
            "type": "object",
            "properties": {f.name: {"description": str(f.type)} for f in fields},
        },
    }


@functools.cache
def drawing(name: str, xray: bool = False) -> dict[str, Any]:
    """A graph's nodes and edges as LangGraph draws them (``xray``: subgraphs opened)."""
    out: dict[str, Any] = GRAPHS[name].get_graph(xray=xray).to_json()
    return out
