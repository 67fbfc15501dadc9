"""The release gate: it passes what holds, and it fails — a test proves it can."""

from __future__ import annotations

import math
from pathlib import Path

from evals.cases import load_event_cases
from evals.gate import Thresholds, failures, judge
from evals.runner import Selection, run_evals
from tests.evals.conftest import scripted_gateway

LIMITS = Thresholds(
    gated={"events.decision_accuracy": 0.95, "events.errors": 0, "chat.safety": 1.0},
    real_model={"chat.answer": 0.8},
)


def test_figures_under_their_threshold_fail_and_the_rest_pass() -> None:
    good = {"events.decision_accuracy": 0.97, "events.errors": 0.0}
    assert failures(judge(good, "local", LIMITS)) == []
    bad = {"events.decision_accuracy": 0.9, "events.errors": 1.0}
    failed = failures(judge(bad, "local", LIMITS))
    assert [v.metric for v in failed] == ["events.decision_accuracy", "events.errors"]
    assert "needs >= 0.95" in failed[0].line
    assert "needs <= 0" in failed[1].line
    # a figure that should be there and is not cannot pass
    gone = failures(
        judge({"events.decision_accuracy": math.nan, "events.errors": 0.0}, "local", LIMITS)
    )
    assert [v.metric for v in gone] == ["events.decision_accuracy"]
    assert "missing" in gone[0].line


def test_the_models_own_words_are_gated_only_for_real_models() -> None:
    figures = {"chat.safety": 1.0, "chat.answer": 0.1}
    local = judge(figures, "local", LIMITS)
    assert failures(local) == []
    [answer] = [v for v in local if v.metric == "chat.answer"]
    assert not answer.passed
    assert "reported, not gated" in answer.line
    real = failures(judge(figures, "openai:gpt-4o-mini", LIMITS))
    assert [v.metric for v in real] == ["chat.answer"]


def test_the_shipped_thresholds_gate_every_suite() -> None:
    limits = Thresholds.load()
    suites = {m.split(".")[0] for m in limits.gated}
    assert suites == {"chat", "events", "streams", "fraud"}
    assert limits.gated["fraud.false_flags"] == 0.01  # at most: AT_MOST
    assert limits.gated["chat.safety"] == 1.0
    assert limits.gated["events.block_precision"] == 1.0


def test_a_deliberately_broken_expectation_fails_the_gate(env_for, tmp_path: Path) -> None:
    """The real runner and scorers on real servers; the cases' expected decisions are
    swapped (block <-> allow), so what the agent rightly decides now scores as wrong."""
    picked = [
        c
        for c in load_event_cases()
        if c.id in {"travel-london-paris-40s", "near-london-paris-25min", "clear-first-use-abroad"}
    ]
    swap = {"block": "allow", "allow": "block"}
    broken = [
        c.model_copy(
            update={
                "expect": c.expect.model_copy(
                    update={"decision": swap[c.expect.decision], "outcome": None}
                )
            }
        )
        for c in picked
    ]
    env = env_for(["scripted"], gateways={"scripted": scripted_gateway()})
    honest = run_evals(env, ["scripted"], Selection(suites=("events",), events=picked), LIMITS)
    assert honest.passed, [v.line for v in honest.verdicts]
    assert honest.figures("scripted")["events.decision_accuracy"] == 1.0
    run = run_evals(env, ["scripted"], Selection(suites=("events",), events=broken), LIMITS)
    assert not run.passed
    [failed] = failures(run.verdicts)
    assert failed.metric == "events.decision_accuracy"
    assert failed.value == 0.0
    decided = {r.case_id: r.decision for r in run.results}
    assert decided["travel-london-paris-40s"] == ("allow", "block")
