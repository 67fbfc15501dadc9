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


FINANCING = [{"n": 1, "title": "0% financing on purchases", "doc_id": "offer-financing",
              "kb": "offers", "text": "700 or more"}]  # fmt: skip


def test_the_bank_checks_eligibility_and_the_prompt_says_it() -> None:
    from graphs.chat.facts import facts

    john = {"credit_score": 795, "tenure_years": 22, "age": 55, "home_ownership": "own_outright"}
    lines = facts(john, FINANCING)
    assert "- 'a credit score of 700 or more': met (credit_score 795)" in lines
    assert lines[-1].startswith("Result: Eligible for 0% financing on purchases")
    assert "spread over 24 months" in lines[-1]
    assert any("not in the profile; checked on application" in line for line in lines)
    priya = facts({"credit_score": 640, "tenure_years": 1.5, "age": 30}, FINANCING)
    assert priya[-1] == ("Result: NOT eligible for 0% financing on purchases: fails a credit "
                         "score of 700 or more (credit_score is 640); at least two years as a "
                         "customer (tenure_years is 1.5).")  # fmt: skip
    no_score = facts({"tenure_years": 3, "age": 40}, FINANCING)
    assert "the profile has no credit_score; checked on application" in "\n".join(no_score)
    assert "still to check: a credit score of 700 or more" in no_score[-1]
    assert facts(john, [{**FINANCING[0], "doc_id": "faq-cards"}]) == []  # no offer, no facts
    assert facts(None, FINANCING) == [
        "0% financing on purchases: no customer profile, so eligibility cannot be checked here."
    ]
    state: Any = {"messages": [], "profile": john, "passages": FINANCING}
    system = str(prompt_of(state, history=4)[0].content)
    assert "Facts the bank computed:\n0% financing on purchases, checked by the bank" in system


@pytest.mark.parametrize("weird", [True, "795", "n/a", float("nan")])
def test_a_field_that_is_not_a_number_never_passes_a_rule(weird: Any) -> None:
    from graphs.chat.facts import facts

    lines = facts({"credit_score": weird, "tenure_years": 5, "age": 40}, FINANCING)
    assert not any("'a credit score of 700 or more': met" in line for line in lines)


def test_a_citation_of_no_passage_is_removed() -> None:
    from graphs.chat.nodes import valid_citations

    passages = [{"n": 1}, {"n": 2}]
    assert valid_citations("Yes [1], see also [4] and [2].", passages) == (
        "Yes [1], see also and [2].")  # fmt: skip
    assert valid_citations("It is free [3].", passages) == "It is free."
    assert valid_citations("Nothing given [1].", []) == "Nothing given."
    listed = "Steps:\n  - open the app [1]\n  - tap Spread"
    assert valid_citations(listed, passages) == listed  # nothing removed: untouched


def test_no_passage_near_the_question_means_the_graph_answers_it_does_not_know() -> None:
    from graphs.chat.nodes import UNKNOWN, known

    near: Any = {"passages": [{"n": 1, "relevance": 0.12}, {"n": 2, "relevance": 0.41}]}
    assert known(near, 0.4)
    assert not known(near, 0.5)
    assert not known({"passages": []}, 0.0)
    assert "connect you with a person" in UNKNOWN


def test_a_question_about_the_customers_own_profile_is_answered_from_it() -> None:
    from langchain_core.messages import HumanMessage

    from graphs.chat.nodes import known

    far = [{"n": 1, "relevance": 0.1}]
    mine: Any = {"messages": [HumanMessage("Read me my profile.")], "passages": far,
                 "profile": {"credit_score": 640}}  # fmt: skip
    assert known(mine, 0.3)
    score: Any = {**mine, "messages": [HumanMessage("What credit score do you hold for me?")]}
    assert known(score, 0.3)
    weather: Any = {**mine, "messages": [HumanMessage("Will it rain in Paris tomorrow?")]}
    assert not known(weather, 0.3)
    nobody: Any = {**mine, "profile": None}
    assert not known(nobody, 0.3)  # no profile to answer from
