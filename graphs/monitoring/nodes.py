"""The monitoring graph's nodes. Alerts are keyed by (signal, recipient): sent once."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.llm import structured
from graphs.monitoring.context import MonitoringContext
from graphs.monitoring.state import AlertDraft, MonitoringState
from ingestion.contracts import derived_id


def find_affected(state: MonitoringState, runtime: Runtime[MonitoringContext]) -> MonitoringState:
    """Customers who live in the region's cities; assets at its sites."""
    region, ctx = state["signal"]["region"], runtime.context
    customers = sorted(
        {c for city in region["cities"] for c in ctx.tools.profiles.customers_in(city)}
    )
    assets = sorted({a for site in region["sites"] for a in ctx.assets_at(site)})
    question = f"{state['signal']['category']} emergency: what we tell affected customers"
    hits = ctx.tools.retriever.search(
        question, ctx.tools.embedder.embed_query(question), k=2, kb="policies"
    )
    return {
        "customers": customers,
        "assets": assets,
        "policy": [{"title": h.title, "text": h.text} for h in hits],
    }


def draft(state: MonitoringState, runtime: Runtime[MonitoringContext]) -> MonitoringState:
    if not state["customers"]:
        return {"draft": None, "draft_error": "no affected customers"}
    sig = state["signal"]
    policy = "\n\n".join(f"{p['title']}:\n{p['text']}" for p in state.get("policy", []))
    prompt = [
        SystemMessage(
            "You write short safety alerts from a bank to its customers. Follow the policy; "
            "never ask for credentials and never mention balances.\n\nPolicy:\n" + policy
        ),
        HumanMessage(
            f"Event ({sig['severity']} {sig['category']}, {sig['region']['name']}): "
            f"{sig['headline']}. {sig.get('description', '')}"
        ),
    ]
    result = structured(runtime.context.gateway, AlertDraft, prompt)
    calls = [c.as_dict() for c in result.calls]
    if result.value is None:
        return {"draft": None, "draft_error": result.error, "model_calls": calls}
    return {"draft": result.value.model_dump(), "draft_error": None, "model_calls": calls}


def publish(state: MonitoringState, runtime: Runtime[MonitoringContext]) -> MonitoringState:
    """One alert per affected customer and one for operations if sites are hit; each once."""
    sig, alerts = state["signal"], runtime.context.tools.alerts
    draft_ = state.get("draft") or {
        "title": f"Safety notice: {sig['region']['name']}",
        "body": (
            f"{sig['headline']}. Card terminals may be offline during power cuts: carry "
            "another way to pay. We will never ask for your PIN or a one-time code."
        ),
    }
    severity = "critical" if sig["severity"] == "extreme" else "warning"
    refs = {"signal_id": sig["signal_id"], "source": sig.get("source", "")}
    common = {"severity": severity, "source": "monitoring-agent", "refs": refs}
    for customer in state["customers"]:
        alerts.notify(
            derived_id(sig["signal_id"], ":", customer), audience="customer", subject_id=customer,
            title=draft_["title"], body=draft_["body"], **common,
        )  # fmt: skip
    if state["assets"]:
        alerts.notify(
            derived_id(sig["signal_id"], ":operations"),
            audience="operations",
            subject_id=sig["signal_id"],
            title=f"{sig['headline']} (sites: {', '.join(sig['region']['sites'])})",
            body=f"Assets in the region: {', '.join(state['assets'])}. Secure equipment and "
            "plan around outages.",
            **common,
        )  # fmt: skip
    return {
        "outcome": f"alerted {len(state['customers'])} customers, {len(state['assets'])} assets"
    }
