"""Liveness, readiness (each dependency reported), Prometheus metrics, and the agents'
operations for admins (what ``vigil agents status`` reports, with the approvals' ages)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Caller, Vigil
from api.errors import UnavailableError
from api.state import AppState

router = APIRouter(tags=["operations"])


async def check_all(vigil: AppState) -> dict[str, Any]:
    timeout = vigil.settings.api_ready_timeout_s

    async def one(name: str, check: Any) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        try:
            detail = await asyncio.wait_for(asyncio.to_thread(check), timeout)
            ok = True
        except TimeoutError:
            ok, detail = False, f"no answer within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - reported, per dependency
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        ms = round((time.perf_counter() - started) * 1000, 1)
        return name, {"ok": ok, "detail": str(detail), "latency_ms": ms}

    results = dict(await asyncio.gather(*(one(n, c) for n, c in vigil.deps.checks.items())))
    report = {
        "ready": all(r["ok"] for r in results.values()),
        "checked_at": time.time(),
        "checks": results,
    }
    vigil.last_ready = report
    return report


@router.get("/health")
async def health(vigil: Vigil) -> dict[str, Any]:
    """Liveness: 200 while the process serves. ``dependencies`` is the latest readiness
    report (from /ready), so a dead dependency shows here too."""
    last = vigil.last_ready
    failing = [n for n, r in (last or {}).get("checks", {}).items() if not r["ok"]]
    return {
        "status": "ok",
        "uptime_s": round(time.time() - vigil.started, 1),
        "failing": failing,
        "dependencies": last,
    }


@router.get("/ready", responses={503: {"description": "a dependency is not usable"}})
async def ready(vigil: Vigil) -> JSONResponse:
    """Each of Kafka, Redis, the retriever and the model, checked now: 503 if any fails."""
    report = await check_all(vigil)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics")
async def metrics(vigil: Vigil) -> Response:
    return Response(generate_latest(vigil.metrics.registry), media_type=CONTENT_TYPE_LATEST)


#: pending approvals by age, in minutes: the buckets' upper bounds (the last is open)
AGE_BUCKETS = ((5, "under 5 min"), (15, "5-15 min"), (60, "15-60 min"), (None, "over 1 h"))


def approvals_by_age(vigil: AppState, now: float) -> dict[str, Any]:
    pending = vigil.feed.pending.pending()
    ages = [now - p.requested_at.timestamp() for p in pending]
    by_age = dict.fromkeys((label for _, label in AGE_BUCKETS), 0)
    for age in ages:
        label = next(lb for cut, lb in AGE_BUCKETS if cut is None or age < cut * 60)
        by_age[label] += 1
    return {"pending": len(pending), "by_age": by_age,
            "oldest_s": round(max(ages), 1) if ages else None}  # fmt: skip


#: the agents' report is shared by the requests of this long (and while it is being made):
#: it describes every group in Kafka (0.6 s here), and each open console asks every 2 s
OPS_FRESH_S = 1.0


@router.get("/ops/agents", responses={503: {"description": "Kafka or Redis did not answer"}})
async def operations(who: Caller, vigil: Vigil) -> dict[str, Any]:
    """Per agent: events/s, lag per partition, the escalation backlog, records sent to the
    DLQ, pending approvals (what ``vigil agents status`` reports), and the pending
    approvals by age. Admins only; one report serves every request within ``OPS_FRESH_S``
    (and every request that comes while it is being made)."""
    who.require("admin", doing="reading the agents' operations")
    source = vigil.deps.operations
    if source is None:
        raise UnavailableError("agents", "this API has no view of the agents")
    timeout = vigil.settings.api_ready_timeout_s * 2
    now = time.monotonic()
    shared = vigil.ops_report
    if shared is None or (now - shared[0] >= OPS_FRESH_S and shared[1].done()):
        task = asyncio.ensure_future(asyncio.wait_for(asyncio.to_thread(source), timeout))
        shared = vigil.ops_report = (now, task)
    try:
        agents = await asyncio.shield(shared[1])
    except TimeoutError:
        why = f"the agents' groups not described within {timeout:g} s"
        raise UnavailableError("kafka", why) from None
    now = time.time()
    approvals = await asyncio.to_thread(approvals_by_age, vigil, now)
    return {"at": now, "agents": agents, "approvals": approvals}
