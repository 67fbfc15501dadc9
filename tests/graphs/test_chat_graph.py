"""The chat graph's shape, and what it can reach: a customer's view, no action at all."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import graphs.chat
from graphs.chat import ChatContext, build_graph
from graphs.chat.nodes import cited, prompt_of
from tools.context import ToolContext

CHAT_DIR = Path(graphs.chat.__file__).parent
#: what a ToolContext holds that acts or sees beyond one customer's own view
ACTIONS = {"blocks", "alerts", "lake", "cards"}


def test_topology() -> None:
    graph = build_graph().get_graph(xray=1)
    edges = sorted((e.source, e.target) for e in graph.edges)
    assert edges == [
        ("__start__", "gather:__start__"),
        ("gather:__end__", "respond"),
        ("gather:__start__", "gather:lookup_customer"),
        ("gather:__start__", "gather:retrieve"),
        ("gather:lookup_customer", "gather:__end__"),
        ("gather:retrieve", "gather:__end__"),
        ("respond", "__end__"),
    ]


def test_no_chat_node_touches_an_action_or_another_view() -> None:
    for source in CHAT_DIR.glob("*.py"):
        tree = ast.parse(source.read_text())
        touched = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not touched & ACTIONS, (source.name, touched & ACTIONS)
        imports = {
            alias.name if isinstance(node, ast.Import) else f"{node.module}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {"tools.block", "tools.catalog", "tools.alerts"} & imports, source.name


def test_the_context_must_be_a_customers_view(tmp_path: Path) -> None:
    tools: Any = ToolContext.__new__(ToolContext)
    object.__setattr__(tools, "audience", "fraud_agent")
    with pytest.raises(ValueError, match="audience 'chat'"):
        ChatContext(tools=tools, gateway=None, customer_id="cust-john")  # type: ignore[arg-type]


def test_citations_are_the_passages_named_by_number() -> None:
    passages = [{"n": i, "title": f"T{i}", "doc_id": f"d{i}", "kb": "offers", "text": "x"}
                for i in (1, 2, 3)]  # fmt: skip
    assert [c["n"] for c in cited("See [3] and [1], not [9].", passages)] == [1, 3]
    assert cited("No citation.", passages) == []


def test_the_prompt_carries_the_profile_passages_and_recent_history_only() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    history = [HumanMessage(f"q{i}") if i % 2 == 0 else AIMessage(f"a{i}") for i in range(20)]
    state: Any = {
        "messages": history,
        "profile": {"credit_score": 795},
        "passages": [{"n": 1, "title": "0% financing on purchases", "text": "700 or more"}],
    }
    prompt = prompt_of(state, history=4)
    system = str(prompt[0].content)
    assert "- credit_score: 795" in system
    assert "[1] 0% financing on purchases\n700 or more" in system
    assert [str(m.content) for m in prompt[1:]] == ["q16", "a17", "q18", "a19"]


def test_a_follow_up_also_searches_with_the_question_before_it() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from graphs.chat.nodes import interleave, questions_of
    from ingestion.knowledge.types import Hit

    said = [HumanMessage("What is the cash withdrawal limit?"), AIMessage("500 GBP a day.")]
    state: Any = {"messages": [*said, HumanMessage(" Does it reset? ")]}
    assert questions_of(state) == ["Does it reset?", "What is the cash withdrawal limit?"]

    def hit(chunk: str) -> Hit:
        return Hit(chunk, chunk.split("#")[0], 1, "faq", chunk, chunk, (), 1.0)

    latest = [hit("pump#0"), hit("faq#3"), hit("fraud#1")]
    combined = [hit("faq#3"), hit("faq#4"), hit("pump#0")]
    # the latest question's first hit leads; the combined search fills in; no chunk twice
    assert [h.chunk_id for h in interleave(3, latest, combined)] == ["pump#0", "faq#3", "faq#4"]
    assert [h.chunk_id for h in interleave(2, latest)] == ["pump#0", "faq#3"]
    assert interleave(3) == []
