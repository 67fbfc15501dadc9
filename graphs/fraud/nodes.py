"""The fraud graph's nodes. Every side effect is keyed by the transaction id."""

from __future__ import annotations

import json
import weakref
from datetime import UTC, datetime
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.approval import ask_approval
from graphs.errors import ModelUnavailableError
from graphs.fraud.context import FraudContext
from graphs.fraud.state import SEVERITY, Action, Assessment, FraudState
from graphs.llm import structured
from ingestion.contracts import FraudDecision, FraudLabel
from ingestion.contracts.outputs import CASE_MAX_BYTES
from ingestion.failpoints import failpoint
from ingestion.knowledge.types import Embedder
from tools.block import block_proposal
from tools.customers import visible

POLICY_QUESTION = "card fraud policy: impossible travel, holds, blocks and analyst approval"
#: a block proposal's approval id is this plus the transaction id
APPROVAL_PREFIX = "appr-"


#: the policy question's vector, per embedder (the question never changes: embedding it for
#: every escalation cost CPU that screening, in the same process, needs)
_POLICY_VECTORS: weakref.WeakKeyDictionary[Embedder, list[float]] = weakref.WeakKeyDictionary()


def policy_vector(embedder: Embedder) -> list[float]:
    """The policy question embedded once per embedder (also how the agent warms up)."""
    try:
        return _POLICY_VECTORS[embedder]
    except KeyError:
        vector = _POLICY_VECTORS[embedder] = embedder.embed_query(POLICY_QUESTION)
        return vector
    except TypeError:  # an embedder that cannot be weakly referenced: not cached
        return embedder.embed_query(POLICY_QUESTION)


def gather_context(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    """Customer profile (fields the fraud agent may see), the card's last payments and the
    fraud policy."""
    tools = runtime.context.tools
    tx = state["transaction"]
    profile = tools.profiles.get(tx["user_id"])
    recent = tools.history.recent(tx["card_id"]) if tools.history.keep > 0 else None
    hits = tools.retriever.search(
        POLICY_QUESTION, policy_vector(tools.embedder), k=3, kb="policies"
    )
    return {
        "profile": visible(profile, "fraud_agent") if profile else None,
        "recent": recent,
        "policy": [{"title": h.title, "text": h.text} for h in hits],
    }


def assess(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    """The model's typed judgement. A bad or late answer is recorded and the gate decides;
    no model reachable at all raises ``ModelUnavailableError`` (the run waits for one)
    unless the context says the rules decide without one."""
    tx, screening = state["transaction"], state["screening"]
    facts = {
        "transaction": {
            k: tx.get(k) for k in ("amount", "currency", "merchant", "channel", "city")
        },
        "screening": {"risk": screening["risk"], "reasons": screening["reasons"]},
        "signals": screening["signals"],
        "customer": state.get("profile"),
    }
    policy = "\n\n".join(f"{p['title']}:\n{p['text']}" for p in state.get("policy", []))
    prompt = [
        SystemMessage(
            "You assess card payments for a bank's fraud team. Judge from the facts only. "
            "A block is always reviewed by an analyst before it happens.\n\nPolicy:\n" + policy
        ),
        HumanMessage(f"Assess this payment:\n{facts}"),
    ]
    failpoint("before_model")
    result = structured(runtime.context.gateway, Assessment, prompt)
    if result.unavailable and runtime.context.wait_for_model:
        # the run stops here and its event is retried until a model answers; the payment
        # keeps the pending action screening gave it (a hold, by default)
        raise ModelUnavailableError(f"waiting for a model: {result.error}")
    failpoint("after_model")
    calls = [c.as_dict() for c in result.calls]
    if result.value is None:
        return {"assessment": None, "assessment_error": result.error, "model_calls": calls}
    return {"assessment": result.value.model_dump(), "assessment_error": None, "model_calls": calls}


def policy_gate(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    """Hard rules first: the model may raise the action, never lower what the rules require."""
    screening = state["screening"]
    rule: Action = "block" if screening["risk"] >= runtime.context.block_min_risk else "hold"
    reasons = "; ".join(screening["reasons"]) or "escalated by screening"
    assessment = state.get("assessment")
    if assessment is None:
        return {
            "action": rule,
            "risk": screening["risk"],
            "decided_by": "policy",
            "rationale": f"Deterministic policy decided ({state.get('assessment_error')}): "
            f"{reasons}",
            "verdict": f"no model assessment ({state.get('assessment_error')}): the rules "
            f"decided {rule}",
        }
    model_action: Action = assessment["action"]
    raises = SEVERITY[model_action] > SEVERITY[rule]
    if raises and not runtime.context.gateway.primary.decides:
        return {
            "action": rule,
            "risk": screening["risk"],
            "decided_by": "policy",
            "rationale": f"{assessment['rationale']} (rules: {reasons}; the model's "
            f"{model_action!r} is advice only: {runtime.context.gateway.primary.name} does not "
            "decide)",
            "verdict": f"the rules decided {rule}; the model advised {model_action} "
            f"({runtime.context.gateway.primary.name} does not decide)",
        }
    action = model_action if raises else rule
    return {
        "action": action,
        "risk": max(float(screening["risk"]), float(assessment["risk"])),
        "decided_by": "graph",
        "rationale": f"{assessment['rationale']} (rules: {reasons})",
        "verdict": f"the rules required {rule}; the model's assessment raised it to {action}"
        if raises
        else f"the rules decided {rule}; the model assessed {model_action}",
    }


def route_action(state: FraudState) -> Literal["request_approval", "hold", "allow"]:
    action = state["action"]
    return "request_approval" if action == "block" else action


def request_approval(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    """Pause for an analyst. The worker records the request (with this interrupt's id)."""
    tx = state["transaction"]
    proposal = block_proposal(
        tx["transaction_id"], tx["card_id"], tx["user_id"],
        "; ".join(state["screening"]["reasons"]) or "high risk", state["risk"],
    )  # fmt: skip
    request, answer = ask_approval(
        kind="block_transaction",
        approval_id=f"{APPROVAL_PREFIX}{tx['transaction_id']}",
        subject_id=tx["user_id"],
        proposal=proposal,
        evidence=[*state["screening"]["reasons"], state["verdict"]],
        timeout_s=runtime.context.approval_timeout_s,
        case=case_of(state, runtime.context.max_kmh),
    )
    return {"request": request, "response": answer}


#: a payment's fields an analyst's case shows
PAYMENT_FIELDS = ("transaction_id", "timestamp", "amount", "currency", "merchant",
                  "merchant_category", "channel", "city", "country", "lat", "lon")  # fmt: skip


def case_of(state: FraudState, max_kmh: float) -> dict[str, Any]:
    """What the analyst reads beside a block proposal: the payment, the card's previous
    use when the travel between them is what flagged it (where and when), the card's last
    payments (``None``: this deployment keeps none), the travel against the limit, the
    rules' reasons once each, and the model's words apart, as the model's note (``None``
    when the rules decided without it)."""
    tx, screening, recent = state["transaction"], state["screening"], state.get("recent")
    signals = screening.get("signals") or {}
    payments = [{k: tx.get(k) for k in PAYMENT_FIELDS}]
    travel = None
    km, seconds = signals.get("distance_km"), signals.get("seconds")
    if isinstance(km, int | float) and isinstance(seconds, int | float):
        kmh = km / (seconds / 3600) if seconds > 0 else None
        travel = {"distance_km": km, "seconds": seconds, "speed_kmh": kmh,
                  "limit_kmh": max_kmh}  # fmt: skip
        if signals.get("previous_lat") is not None:  # all of it when the card's history has it
            was = signals.get("previous_transaction_id")
            kept = next((p for p in recent or () if p.get("transaction_id") == was), {})
            payments.insert(0, {
                **{k: kept.get(k) for k in PAYMENT_FIELDS}, "transaction_id": was,
                "timestamp": signals.get("previous_at"),
                "lat": signals.get("previous_lat"), "lon": signals.get("previous_lon"),
            })  # fmt: skip
    assessment = state.get("assessment")
    return fitted(
        {
            "card_id": tx["card_id"],
            "customer_id": tx["user_id"],
            "payments": payments,
            "recent": None if recent is None else list(recent),
            "travel": travel,
            "reasons": list(dict.fromkeys(screening["reasons"])),
            "verdict": state.get("verdict"),
            "model_note": assessment.get("rationale") if assessment else None,
            "model_advice": assessment.get("action") if assessment else None,
        }
    )


#: the model's note is cut to this many characters when the case would not fit otherwise
NOTE_MAX = 2000


def fitted(case: dict[str, Any]) -> dict[str, Any]:
    """The case within ``CASE_MAX_BYTES``: a long model note cut first (marked so), then
    the card's oldest payments left out (the case says how many)."""

    def size() -> int:
        return len(json.dumps(case, default=str))

    note = case.get("model_note")
    if isinstance(note, str) and len(note) > NOTE_MAX and size() > CASE_MAX_BYTES:
        case["model_note"] = note[:NOTE_MAX] + " [cut: the note was longer]"
    recent = case.get("recent")
    while recent and size() > CASE_MAX_BYTES:
        recent.pop()
        case["recent_left_out"] = case.get("recent_left_out", 0) + 1
    return case


def route_answer(state: FraudState) -> Literal["apply_block", "release", "fail_safe"]:
    decision = state["response"]["decision"]
    if decision == "approve":
        return "apply_block"
    if decision == "reject":
        return "release"
    return "fail_safe"


def apply_block(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    tools = runtime.context.tools
    tx, answer = state["transaction"], state["response"]
    outcome = tools.blocks.block(state["request"]["proposal"], approval_id=answer["approval_id"])
    failpoint("after_block")
    action = outcome.action
    _alert(runtime, f"fraud-{tx['transaction_id']}", "critical", "fraud_team",
           "Card transaction blocked: " + "; ".join(state["screening"]["reasons"]),
           f"Approved by {action.approved_by}. {state['rationale']}", tx)  # fmt: skip
    _alert(runtime, f"cs-{tx['transaction_id']}", "info", "customer_service",
           "Please call the customer about a blocked payment",
           f"{tx['amount']} {tx['currency']} at {tx['merchant']} was blocked as suspected "
           "fraud; confirm with the customer and offer a new card.", tx)  # fmt: skip
    _finalize(runtime, state, "block", "analyst", approval_id=answer["approval_id"])
    _label(runtime, state, "fraud")
    return {"outcome": "blocked"}


def release(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    answer = state["response"]
    _finalize(
        runtime, state, "release", "analyst", approval_id=answer["approval_id"],
        extra=[f"false positive: rejected by {answer.get('analyst')}: {answer.get('reason', '')}"],
    )  # fmt: skip
    _label(runtime, state, "genuine")
    return {"outcome": "released (false positive)"}


def fail_safe(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    tx, answer = state["transaction"], state["response"]
    if runtime.context.fail_safe == "release":
        _finalize(
            runtime, state, "release", "fail_safe", approval_id=answer.get("approval_id"),
            extra=["no analyst answered in time: released by the configured fail-safe"],
        )  # fmt: skip
        return {"outcome": "released (no answer)"}
    _alert(runtime, f"escalate-{tx['transaction_id']}", "critical", "operations",
           "No analyst answered a block proposal in time",
           "The payment stays on hold; the case is escalated to the duty manager.", tx)  # fmt: skip
    _finalize(
        runtime, state, "hold", "fail_safe", approval_id=answer.get("approval_id"),
        extra=["no analyst answered in time: held and escalated"],
    )  # fmt: skip
    return {"outcome": "held and escalated (no answer)"}


def hold(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    tx = state["transaction"]
    _alert(runtime, f"review-{tx['transaction_id']}", "warning", "fraud_team",
           "Payment held for review", state["rationale"], tx)  # fmt: skip
    _finalize(runtime, state, "hold", state["decided_by"])
    return {"outcome": "held for review"}


def allow(state: FraudState, runtime: Runtime[FraudContext]) -> FraudState:
    _finalize(runtime, state, "allow", state["decided_by"])
    return {"outcome": "allowed"}


def _alert(
    runtime: Runtime[FraudContext],
    alert_id: str,
    severity: Literal["info", "warning", "critical"],
    audience: Literal["fraud_team", "customer_service", "operations"],
    title: str,
    body: str,
    tx: dict[str, Any],
) -> None:
    runtime.context.tools.alerts.notify(
        alert_id,
        severity=severity,
        audience=audience,
        title=title,
        body=body,
        source="fraud-agent",
        subject_id=tx["user_id"],
        refs={"transaction_id": tx["transaction_id"], "card_id": tx["card_id"]},
    )


def _finalize(
    runtime: Runtime[FraudContext],
    state: FraudState,
    outcome: Literal["allow", "hold", "block", "release"],
    decided_by: str,
    *,
    approval_id: str | None = None,
    extra: list[str] | None = None,
) -> None:
    """The final decision: once to the data lake, once to ``fraud.decisions``."""
    tx = state["transaction"]
    decision = FraudDecision(
        event_id=f"final-{tx['transaction_id']}",
        transaction_id=tx["transaction_id"],
        user_id=tx["user_id"],
        card_id=tx["card_id"],
        outcome=outcome,
        risk_score=min(1.0, float(state["risk"])),
        reasons=[*state["screening"]["reasons"], *_verdict(state), *(extra or [])],
        signals=state["screening"]["signals"],
        decided_by=decided_by,
        approval_id=approval_id,
        model_note=_note(state),
    )
    tools = runtime.context.tools
    tools.lake.write_decision(decision, model_calls=state.get("model_calls", []))
    runtime.context.emitter.emit_once("decision", decision.event_id, decision)


def _verdict(state: FraudState) -> list[str]:
    verdict = state.get("verdict")
    return [verdict] if verdict else []


def _note(state: FraudState) -> str | None:
    """The model's rationale, as its note (cut to the contract's 4,000 characters)."""
    assessment = state.get("assessment")
    if not assessment:
        return None
    return str(assessment.get("rationale") or "")[:4000] or None


def _label(
    runtime: Runtime[FraudContext], state: FraudState, label: Literal["fraud", "genuine"]
) -> None:
    """An analyst's answer is a label too (``fraud.labels``: terminal risk, the training
    set), published once."""
    tx = state["transaction"]
    event = FraudLabel(
        event_id=f"label-{tx['transaction_id']}",
        transaction_id=tx["transaction_id"],
        label=label,
        source="analyst",
        known_at=datetime.now(UTC),
    )
    runtime.context.emitter.emit_once("label", event.event_id, event)
