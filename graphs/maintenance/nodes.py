"""The maintenance graph's nodes. Every effect is keyed by the work order id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.approval import ask_approval
from graphs.llm import structured
from graphs.maintenance.context import MaintenanceContext
from graphs.maintenance.state import RANK, MaintenanceState, Priority, WorkOrderDraft
from ingestion.contracts import WorkOrder

#: approval ids of asset stops (``stop-<work order id>``)
APPROVAL_PREFIX = "stop-"


def gather_context(
    state: MaintenanceState, runtime: Runtime[MaintenanceContext]
) -> MaintenanceState:
    """The asset type's manual passages and the asset's recent maintenance history."""
    d, ctx = state["detection"], runtime.context
    question = f"{d['asset_type'].replace('_', ' ')} maintenance: " + "; ".join(d["reasons"])
    hits = ctx.tools.retriever.search(
        question, ctx.tools.embedder.embed_query(question), k=3, kb="manuals"
    )
    history = ctx.history.recent(d["asset_id"], 5)
    return {
        "manual": [{"title": h.title, "text": h.text} for h in hits],
        "history": [log.model_dump(mode="json") for log in history],
    }


def draft(state: MaintenanceState, runtime: Runtime[MaintenanceContext]) -> MaintenanceState:
    """The model drafts the work order; a failure is recorded, the gate decides."""
    d = state["detection"]
    manual = "\n\n".join(f"{m['title']}:\n{m['text']}" for m in state.get("manual", []))
    history = "\n".join(
        f"- {h['performed_at'][:10]} {h['kind']}: {h['summary']}" for h in state.get("history", [])
    )
    facts = {
        "asset": d["asset_id"], "type": d["asset_type"], "site": d.get("site"),
        "findings": d["reasons"], "metrics": d["metrics"],
        "remaining_useful_life_h": d.get("rul_h"),
    }  # fmt: skip
    prompt = [
        SystemMessage(
            "You plan maintenance for industrial assets. Draft one work order from the "
            "findings, the manual and the history only; name parts only from the manual."
            f"\n\nManual:\n{manual or '(none found)'}\n\nHistory:\n{history or '(none)'}"
        ),
        HumanMessage(f"Findings:\n{facts}"),
    ]
    result = structured(runtime.context.gateway, WorkOrderDraft, prompt)
    calls = [c.as_dict() for c in result.calls]
    if result.value is None:
        return {"draft": None, "draft_error": result.error, "model_calls": calls}
    return {"draft": result.value.model_dump(), "draft_error": None, "model_calls": calls}


def _floor(rul_h: float | None) -> Priority:
    if rul_h is None:
        return "medium"
    if rul_h <= 24:
        return "urgent"
    if rul_h <= 48:
        return "high"
    return "medium"


def policy_gate(state: MaintenanceState, runtime: Runtime[MaintenanceContext]) -> MaintenanceState:
    """Hard rules: the remaining life sets the least priority and when the asset must stop."""
    d, draft_ = state["detection"], state.get("draft")
    rul = d.get("rul_h")
    detected = datetime.fromisoformat(d["detected_at"])
    failure = (
        datetime.fromisoformat(d["predicted_failure_at"]) if d.get("predicted_failure_at") else None
    )
    floor = _floor(rul)
    rule_stop = rul is not None and rul <= runtime.context.stop_rul_h
    findings = "; ".join(d["reasons"])
    if draft_ is None:
        priority, stop, parts = floor, rule_stop, []
        action = f"Inspect and repair {d['asset_id']}: {d['reasons'][0]}"
        window_end = failure or detected + timedelta(hours=72)
        decided_by: Literal["graph", "policy"] = "policy"
        rationale = f"Deterministic policy decided ({state.get('draft_error')}): {findings}"
    else:
        gateway = runtime.context.gateway
        raises = RANK[draft_["priority"]] > RANK[floor] or (draft_["stop_asset"] and not rule_stop)
        notes: list[str] = []
        if gateway.primary.decides or not raises:
            priority = draft_["priority"] if RANK[draft_["priority"]] > RANK[floor] else floor
            stop = bool(draft_["stop_asset"]) or rule_stop
        else:  # the model's priority and stop are advice: the rules decide
            priority, stop = floor, rule_stop
            notes.append(
                f"the model's priority {draft_['priority']!r} and stop {draft_['stop_asset']} "
                f"are advice only: {gateway.primary.name} does not decide"
            )
        # parts only as the manual names them; a job that is not a sentence is replaced
        manual = " ".join(m["text"] for m in state.get("manual", []))
        parts = [p for p in draft_["parts"] if p and p in manual]
        dropped = sorted(set(draft_["parts"]) - set(parts))
        if dropped:
            notes.append(f"parts not in the manual dropped: {', '.join(dropped)}")
        action = draft_["action"].strip()
        if len(action.split()) < 3:
            notes.append(f"unusable job text {action!r} replaced")
            action = f"Inspect and repair {d['asset_id']}: {d['reasons'][0]}"
        hours = float(draft_["window_hours"]) + float(draft_["duration_hours"])
        window_end = detected + timedelta(hours=hours)
        if failure is not None and window_end > failure:
            window_end = failure  # never plan the job after the predicted failure
        decided_by = "graph"
        rationale = f"{draft_['rationale']} (detector: {findings})" + "".join(
            f" [{n}]" for n in notes
        )
    order = {
        "work_order_id": d["work_order_id"],
        "asset_id": d["asset_id"],
        "priority": priority,
        "action": action,
        "rationale": rationale,
        "parts": parts,
        "window_start": detected.isoformat(),
        "window_end": max(window_end, detected).isoformat(),
        "stops_asset": stop,
        "detected_at": d["detected_at"],
        "remaining_useful_life_h": rul,
        "predicted_failure_at": d.get("predicted_failure_at"),
        "source_event_ids": [d["event_id"]],
    }
    return {"order": order, "decided_by": decided_by}


def route_order(state: MaintenanceState) -> Literal["request_approval", "publish"]:
    return "request_approval" if state["order"]["stops_asset"] else "publish"


def request_approval(
    state: MaintenanceState, runtime: Runtime[MaintenanceContext]
) -> MaintenanceState:
    """Stopping an asset waits for a person, like a block does."""
    order = state["order"]
    proposal = {
        "action": "stop_asset",
        "asset_id": order["asset_id"],
        "work_order_id": order["work_order_id"],
        "priority": order["priority"],
        "job": order["action"],
        "window_end": order["window_end"],
    }
    request, answer = ask_approval(
        kind="stop_asset",
        approval_id=f"{APPROVAL_PREFIX}{order['work_order_id']}",
        subject_id=order["asset_id"],
        proposal=proposal,
        evidence=[*state["detection"]["reasons"], order["rationale"]],
        timeout_s=runtime.context.approval_timeout_s,
    )
    return {"request": request, "response": answer}


def publish(state: MaintenanceState, runtime: Runtime[MaintenanceContext]) -> MaintenanceState:
    """The work order, once; a stop only as approved. No answer in time: run to the window
    without stopping and tell operations."""
    order: dict[str, Any] = dict(state["order"])
    decided_by: str = state["decided_by"]
    answer = state.get("response")
    outcome = "work order raised"
    if answer is not None:
        order["approval_id"] = answer.get("approval_id")
        if answer["decision"] == "approve":
            decided_by, outcome = "analyst", "work order raised (stop approved)"
        elif answer["decision"] == "reject":
            order["stops_asset"] = False
            order["rationale"] += (
                f" Stop rejected by {answer.get('analyst')}: {answer.get('reason', '')}"
            )
            decided_by, outcome = "analyst", "work order raised (stop rejected)"
        else:
            order["stops_asset"] = False
            order["rationale"] += " Nobody approved the stop in time: the asset keeps running."
            decided_by, outcome = "fail_safe", "work order raised (stop not approved in time)"
            _alert(runtime, order, "operations", "critical",
                   f"Stop of {order['asset_id']} not approved in time",
                   "The asset keeps running towards a predicted failure; decide now.")  # fmt: skip
    work_order = WorkOrder(
        event_id=f"wo-event-{order['work_order_id']}", decided_by=decided_by, **order
    )
    runtime.context.emitter.emit_once("workorder", work_order.work_order_id, work_order)
    if RANK[work_order.priority] >= RANK["high"]:
        severity: Literal["warning", "critical"] = (
            "critical" if work_order.priority == "urgent" else "warning"
        )
        title = f"{work_order.priority} work order for {work_order.asset_id}"
        _alert(runtime, order, "maintenance", severity, title, work_order.action)
    return {"outcome": outcome}


def _alert(
    runtime: Runtime[MaintenanceContext],
    order: dict[str, Any],
    audience: Literal["maintenance", "operations"],
    severity: Literal["warning", "critical"],
    title: str,
    body: str,
) -> None:
    runtime.context.tools.alerts.notify(
        f"{audience}-{order['work_order_id']}",
        severity=severity,
        audience=audience,
        title=title,
        body=body,
        source="maintenance-agent",
        subject_id=order["asset_id"],
        refs={"work_order_id": order["work_order_id"]},
    )
