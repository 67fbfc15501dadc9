"""The maintenance graph's gate: the rules a weak or failing model cannot get past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from graphs.maintenance.nodes import policy_gate
from graphs.maintenance.state import MaintenanceState

DETECTED = datetime(2026, 11, 2, 1, tzinfo=UTC)


def state(rul_h: float | None, draft: dict[str, Any] | None) -> MaintenanceState:
    failure = None if rul_h is None else DETECTED + timedelta(hours=rul_h)
    return {
        "detection": {
            "work_order_id": "wo-pump-03-e1", "asset_id": "pump-03", "event_id": "e1",
            "asset_type": "centrifugal_pump", "detected_at": DETECTED.isoformat(),
            "reasons": ["vibration_mm_s at 3.50 (4.2 sd above its normal 2.23)"],
            "metrics": [], "rul_h": rul_h,
            "predicted_failure_at": None if failure is None else failure.isoformat(),
        },
        "manual": [{"title": "Pump manual", "text": "Order bearing kit BK-6309 in advance."}],
        "draft": draft,
        "draft_error": None if draft else "the model answered no valid JSON",
    }  # fmt: skip


def gate(st: MaintenanceState, stop_rul_h: float = 12.0, decides: bool = True) -> dict[str, Any]:
    model = SimpleNamespace(name="local" if not decides else "gpt", decides=decides)
    runtime = SimpleNamespace(
        context=SimpleNamespace(stop_rul_h=stop_rul_h, gateway=SimpleNamespace(primary=model))
    )
    out = policy_gate(st, runtime)  # type: ignore[arg-type]
    return dict(out)


def draft(**kw: Any) -> dict[str, Any]:
    base = {"priority": "low", "action": "Replace the drive-end bearing.", "parts": ["BK-6309"],
            "window_hours": 200, "duration_hours": 4, "stop_asset": False,
            "rationale": "Wear."}  # fmt: skip
    return {**base, **kw}


def test_remaining_life_sets_the_least_priority_and_the_latest_window() -> None:
    out = gate(state(20.0, draft()))
    order = out["order"]
    assert order["priority"] == "urgent"  # 20 h left: the model's "low" is raised
    assert datetime.fromisoformat(order["window_end"]) == DETECTED + timedelta(hours=20)
    assert out["decided_by"] == "graph"
    assert not order["stops_asset"]


def test_little_life_left_stops_the_asset_whatever_the_model_says() -> None:
    assert gate(state(6.0, draft(stop_asset=False)))["order"]["stops_asset"] is True
    assert gate(state(60.0, draft(stop_asset=False)))["order"]["stops_asset"] is False


def test_parts_the_manual_does_not_name_and_unusable_job_text_are_replaced() -> None:
    order = gate(state(40.0, draft(parts=["BK-6309", "low", "high"], action=".0s, low")))["order"]
    assert order["parts"] == ["BK-6309"]
    assert order["action"].startswith("Inspect and repair pump-03")
    assert "parts not in the manual dropped: high, low" in order["rationale"]
    assert order["priority"] == "high"


def test_without_a_model_answer_the_policy_decides_and_says_so() -> None:
    out = gate(state(30.0, None))
    assert out["decided_by"] == "policy"
    assert out["order"]["priority"] == "high"
    assert (
        "Deterministic policy decided (the model answered no valid JSON)"
        in (out["order"]["rationale"])
    )


def test_a_model_that_does_not_decide_only_advises_priority_and_stop() -> None:
    eager = draft(priority="urgent", stop_asset=True)
    advised = gate(state(40.0, eager), decides=False)["order"]
    assert (advised["priority"], advised["stops_asset"]) == ("high", False)  # the rules' floor
    assert "advice only: local does not decide" in advised["rationale"]
    trusted = gate(state(40.0, eager), decides=True)["order"]
    assert (trusted["priority"], trusted["stops_asset"]) == ("urgent", True)
    # below the floor is raised either way; the rules' stop holds either way
    assert gate(state(6.0, draft()), decides=False)["order"]["stops_asset"] is True
