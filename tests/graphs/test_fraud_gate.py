"""The fraud graph's gate: rules set the floor; only a model trusted to decide may raise it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from graphs.fraud.nodes import case_of, policy_gate
from graphs.fraud.state import FraudState
from ingestion.contracts.outputs import CASE_MAX_BYTES, ApprovalRequest


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


def recent(n: int, merchant: str = "Café ü") -> list[dict[str, Any]]:
    return [{"transaction_id": f"tx-{i}", "timestamp": f"2026-11-20T09:{i % 60:02d}:00+00:00",
             "amount": "9999999999.9999", "currency": "GBP", "merchant": merchant * 13,
             "merchant_category": "other", "channel": "card_present", "city": "Zürich" * 20,
             "country": "CH", "lat": -89.999999, "lon": 179.999999} for i in range(n)]  # fmt: skip


def case_state(history: list[dict[str, Any]] | None, note: str = "Odd.") -> FraudState:
    return {
        "transaction": {
            "transaction_id": "tx-0",
            "card_id": "card-1",
            "user_id": "cust-1",
            "amount": "10",
            "lat": 48.85,
            "lon": 2.35,
        },
        "screening": {
            "risk": 0.97,
            "reasons": ["impossible travel", "impossible travel"],
            "signals": {
                "distance_km": 346.0,
                "seconds": 40,
                "previous_transaction_id": "tx-1",
                "previous_lat": 51.5,
                "previous_lon": -0.12,
                "previous_at": "2026-11-20T09:01:00+00:00",
            },
        },
        "recent": history,
        "assessment": {"risk": 0.9, "action": "block", "rationale": note, "evidence": []},
        "verdict": "the rules decided block",
    }


def test_the_case_has_the_cards_history_and_the_previous_payment_in_full() -> None:
    kept = recent(3)
    case = case_of(case_state(kept), 1000.0)
    before, _ = case["payments"]
    assert (before["transaction_id"], before["merchant"], before["amount"]) == (
        "tx-1", kept[1]["merchant"], kept[1]["amount"])  # fmt: skip
    assert before["timestamp"] == "2026-11-20T09:01:00+00:00"  # the decision's own record
    assert case["recent"] == kept
    assert "recent_left_out" not in case
    assert case["reasons"] == ["impossible travel"]
    assert case_of(case_state(None), 1000.0)["recent"] is None  # none kept: said, not []


def test_a_case_too_large_leaves_out_the_oldest_payments_and_says_how_many() -> None:
    st = case_state(recent(100), note="n" * 40_000)
    case = case_of(st, 1000.0)
    size = len(json.dumps(case, default=str))
    assert size <= CASE_MAX_BYTES
    left = case["recent_left_out"]
    assert 0 < left < 100
    assert len(case["recent"]) == 100 - left
    assert [p["transaction_id"] for p in case["recent"]] == [f"tx-{i}" for i in range(100 - left)]
    assert len(st["recent"] or []) == 100  # the graph's state is not changed
    assert case["model_note"].endswith("[cut: the note was longer]")
    ApprovalRequest(approval_id="appr-tx-0", interrupt_id="i", thread_id="t",
                    kind="block_transaction", subject_id="cust-1", proposal={},
                    proposal_hash="h", deadline=datetime.now(UTC) + timedelta(minutes=5),
                    case=case)  # fmt: skip
