"""The fraud graph's gate: rules set the floor; only a model trusted to decide may raise it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graphs.fraud.nodes import policy_gate
from graphs.fraud.state import FraudState


def state(risk: float, action: str | None) -> FraudState:
    assessment = None
    if action is not None:
        assessment = {"risk": 0.95, "action": action, "rationale": "Looks odd.", "evidence": []}
    return {
        "screening": {"risk": risk, "reasons": ["amount 15x the customer's usual"], "signals": {}},
        "assessment": assessment,
        "assessment_error": None if assessment else "no valid JSON",
    }


def gate(st: FraudState, *, decides: bool) -> dict[str, Any]:
    model = SimpleNamespace(name="local" if not decides else "openai:gpt", decides=decides)
    ctx = SimpleNamespace(block_min_risk=0.8, gateway=SimpleNamespace(primary=model))
    return dict(policy_gate(st, SimpleNamespace(context=ctx)))  # type: ignore[arg-type]


def test_a_trusted_model_may_raise_a_hold_to_a_block() -> None:
    out = gate(state(0.6, "block"), decides=True)
    assert (out["action"], out["decided_by"]) == ("block", "graph")
    assert out["risk"] == 0.95


def test_the_offline_model_only_advises_a_block_the_rules_do_not_require() -> None:
    out = gate(state(0.6, "block"), decides=False)
    assert (out["action"], out["decided_by"]) == ("hold", "policy")
    assert out["risk"] == 0.6
    assert "'block' is advice only: local does not decide" in out["rationale"]


def test_no_model_lowers_what_the_rules_require() -> None:
    for decides in (True, False):
        out = gate(state(0.97, "allow"), decides=decides)
        assert out["action"] == "block"
    assert gate(state(0.97, None), decides=False)["decided_by"] == "policy"
