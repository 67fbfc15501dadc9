"""The tools as a model sees them: typed arguments, docstrings written for the model,
errors it can act on. The work is done by the plain modules beside this one; stores and
clients arrive through ``runtime.context`` (a ``ToolContext``), never as globals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool, ToolException

from ingestion.contracts import FraudDecision
from tools.block import block_proposal
from tools.context import ToolContext
from tools.customers import visible
from tools.errors import NotApprovedError
from tools.velocity import Sighting, assess

#: unparameterized on purpose: pydantic would try to build a schema of the context's clients
Runtime = ToolRuntime[Any, Any]


def _ctx(runtime: Runtime) -> ToolContext:
    ctx = runtime.context
    if not isinstance(ctx, ToolContext):
        raise ToolException("this tool runs inside a Vigil graph (no ToolContext was given)")
    return ctx


@tool
def velocity_check(
    card_id: str,
    transaction_id: str,
    timestamp: datetime,
    channel: Literal["card_present", "card_not_present", "atm"],
    runtime: Runtime,
    lat: float | None = None,
    lon: float | None = None,
) -> dict[str, Any]:
    """Check whether a card could physically have travelled from its previous card-present
    use to this transaction. Returns `feasible` (false means impossible travel), the implied
    speed in km/h and mph, the distance and time between the two uses, and a one-line reason.
    Online (card-not-present) payments and uses without a location are not comparable."""
    ctx = _ctx(runtime)
    now = Sighting(transaction_id, timestamp, lat, lon, channel)
    previous = ctx.cards.observe(card_id, now) if now.located else ctx.cards.last(card_id)
    v = assess(
        previous, now, max_kmh=ctx.velocity_max_kmh, same_place_km=ctx.velocity_same_place_km
    )
    return {
        "comparable": v.comparable,
        "feasible": v.feasible,
        "speed_kmh": None if v.speed_kmh is None else round(v.speed_kmh, 1),
        "speed_mph": None if v.speed_mph is None else round(v.speed_mph, 1),
        "distance_km": None if v.distance_km is None else round(v.distance_km, 1),
        "seconds": v.seconds,
        "previous_transaction_id": v.previous_transaction_id,
        "reason": v.reason,
    }


@tool
def customer_lookup(customer_id: str, runtime: Runtime) -> dict[str, Any]:
    """Look up a customer's current profile (kept fresh from the customer-data stream).
    Returns only the fields you are allowed to see."""
    profile = _ctx(runtime).profiles.get(customer_id)
    if profile is None:
        raise ToolException(
            f"no customer {customer_id!r}: check the id (it looks like cust-...); "
            "do not guess a profile"
        )
    return visible(profile, _ctx(runtime).audience)


@tool
def search_knowledge(
    question: str, runtime: Runtime, kb: str | None = None, k: int = 4
) -> list[dict[str, Any]]:
    """Search the bank's knowledge base (policies, offers, FAQs, manuals) by meaning and
    keywords. Ask a full question. Optionally limit to one knowledge base: "policies",
    "offers", "faq" or "manuals". Cite the `title` of what you use."""
    ctx = _ctx(runtime)
    if not question.strip():
        raise ToolException("the question is empty: ask what you need to know")
    hits = ctx.retriever.search(question, ctx.embedder.embed_query(question), k=k, kb=kb)
    return [
        {
            "title": h.title,
            "text": h.text,
            "doc_id": h.doc_id,
            "kb": h.kb,
            "score": round(h.score, 4),
        }
        for h in hits
    ]


@tool
def block_transaction(
    transaction_id: str,
    card_id: str,
    customer_id: str,
    reason: str,
    risk: float,
    runtime: Runtime,
    approval_id: str | None = None,
) -> dict[str, Any]:
    """Block a card transaction. Only works with the id of an analyst's approval of exactly
    this block (same transaction, card, customer, reason and risk), unless an auto-block
    policy covers the risk. Calling it again for the same transaction changes nothing and
    returns the first outcome."""
    proposal = block_proposal(transaction_id, card_id, customer_id, reason, risk)
    try:
        outcome = _ctx(runtime).blocks.block(proposal, approval_id=approval_id)
    except NotApprovedError as exc:
        raise ToolException(str(exc)) from exc
    return {
        "blocked": True,
        "applied_now": outcome.applied_now,
        "authority": outcome.action.authority,
        "approved_by": outcome.action.approved_by,
        "blocked_at": outcome.action.blocked_at.isoformat(),
    }


@tool
def send_alert(
    alert_id: str,
    severity: Literal["info", "warning", "critical"],
    audience: Literal["fraud_team", "customer_service", "operations", "maintenance", "customer"],
    title: str,
    body: str,
    subject_id: str,
    runtime: Runtime,
) -> dict[str, Any]:
    """Alert people. `alert_id` must be stable for the situation (for example
    "fraud-<transaction id>") so a repeated call does not alert twice."""
    sent, now = _ctx(runtime).alerts.notify(
        alert_id, severity=severity, audience=audience, title=title, body=body,
        source="tool", subject_id=subject_id,
    )  # fmt: skip
    return {"alert_id": sent.alert_id, "sent_now": now, "created_at": sent.created_at.isoformat()}


@tool
def record_decision(decision: FraudDecision, runtime: Runtime) -> dict[str, Any]:
    """Record a fraud decision in the data lake (customer and card ids are pseudonymized).
    Recording the same decision (same event_id) twice is a no-op."""
    path, written = _ctx(runtime).lake.write_decision(decision)
    return {"recorded": True, "written_now": written, "file": path.name}


ALL: tuple[BaseTool, ...] = (
    velocity_check,
    customer_lookup,
    search_knowledge,
    block_transaction,
    send_alert,
    record_decision,
)
for _t in ALL:
    _t.handle_tool_error = True  # a ToolException goes back to the model as the answer

#: chat has no path to the block tool (DESIGN guarantee 3), nor to other customers' data
CHAT_TOOLS: tuple[BaseTool, ...] = (search_knowledge,)
