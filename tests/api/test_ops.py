"""Health, readiness per dependency, metrics, request ids in JSON logs, OpenAPI, CORS."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from api.logs import JsonFormatter
from api.routes.ops import OPS_FRESH_S
from tests.api.conftest import Api


def test_ready_reports_each_dependency_and_health_names_a_dead_one(api: Api) -> None:
    with api.client() as c:
        assert c.get("/health").json()["status"] == "ok"
        ready = c.get("/ready")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert set(checks) == {"kafka", "redis", "retriever", "model", "agents"}
        assert all(r["ok"] for r in checks.values()), checks
        assert "chunks searchable" in checks["retriever"]["detail"]

        def dead() -> str:
            raise ConnectionError("connection refused by 127.0.0.1:9")

        api.deps.checks = {**api.deps.checks, "kafka": dead}
        refused = c.get("/ready")
        assert refused.status_code == 503
        assert refused.json()["checks"]["kafka"] == {
            "ok": False,
            "detail": "ConnectionError: connection refused by 127.0.0.1:9",
            "latency_ms": refused.json()["checks"]["kafka"]["latency_ms"],
        }
        assert refused.json()["checks"]["redis"]["ok"]
        health = c.get("/health")
        assert health.status_code == 200  # alive, and it says what is not
        assert health.json()["failing"] == ["kafka"]


def test_metrics_count_requests_streams_and_model_calls(api: Api) -> None:
    with api.client("john") as c:
        c.post("/chat/t-metrics", json={"message": "hello"}).read()
        c.get("/me")
        c.get("/approvals")
        text = c.get("/metrics").text
    assert 'vigil_http_requests_total{method="GET",route="/me",status="200"} 1.0' in text
    assert 'vigil_http_requests_total{method="GET",route="/approvals",status="403"} 1.0' in text
    assert 'vigil_runs_ended_total{assistant="chat",status="success"} 1.0' in text
    assert 'vigil_model_calls_total{model="scripted"} 1.0' in text
    assert 'vigil_stream_events_total{event="token"}' in text
    assert 'vigil_auth_refusals_total{status="403"} 1.0' in text


def test_each_request_has_an_id_in_its_response_and_its_json_log(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vigil.api.access")
    with api.client("john") as c:
        given = c.get("/me", headers={"X-Request-ID": "req-from-the-caller"})
        made = c.get("/me")
    assert given.headers["x-request-id"] == "req-from-the-caller"
    assert len(made.headers["x-request-id"]) == 32
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    mine = [line for line in lines if line.get("request_id") == "req-from-the-caller"]
    assert mine
    assert mine[0]["path"] == "/me"
    assert mine[0]["status"] == 200
    assert mine[0]["msg"] == "request"


def test_openapi_docs_and_the_console_are_served(api: Api) -> None:
    with api.client() as c:
        spec = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
        console = c.get("/console")
        assert console.status_code == 200
        assert "EventSource" in c.get("/console/console.js").text
        assert c.get("/console/../app.py").status_code == 404
    paths: dict[str, Any] = spec["paths"]
    for path in ("/chat/{thread_id}", "/threads", "/threads/{thread_id}/runs/stream",
                 "/approvals/{approval_id}/approve", "/ready", "/metrics"):  # fmt: skip
        assert path in paths
    sse = paths["/chat/{thread_id}"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in sse
    # how to say who you are, as clients and /docs' "Authorize" read it
    schemes = spec["components"]["securitySchemes"]
    bearer = schemes["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert bearer["bearerFormat"] == "API key or HS256 JWT"
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "vigil_session")
    chat = paths["/chat/{thread_id}"]["post"]["security"]
    assert {name for s in chat for name in s} == {"bearer", "apiKey", "session"}
    assert "security" not in paths["/ready"]["get"]  # open to probes


@pytest.mark.script(api_cors_origins=["https://bank.example"])
def test_cors_allows_only_the_configured_origins(api: Api) -> None:
    with api.client() as c:
        ok = c.options("/me", headers={"Origin": "https://bank.example",
                                       "Access-Control-Request-Method": "GET"})  # fmt: skip
        other = c.options("/me", headers={"Origin": "https://evil.example",
                                          "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert ok.headers["access-control-allow-origin"] == "https://bank.example"
    assert "access-control-allow-origin" not in other.headers


def test_the_operations_report_is_for_admins_and_says_each_agent(api: Api) -> None:
    for who in ("john", "analyst"):
        with api.client(who) as c:
            r = c.get("/ops/agents")
        assert r.status_code == 403, (who, r.text)
        assert "admin" in r.json()["detail"]
    with api.client("admin") as c:
        r = c.get("/ops/agents")
    assert r.status_code == 200, r.text
    report = r.json()
    assert set(report["agents"]) == {"fraud", "maintenance", "monitoring"}
    fraud = report["agents"]["fraud"]
    assert (fraud["replicas"], fraud["dead_lettered"], fraud["events_per_s"]) == ([], 0, 0)
    assert fraud["escalations"]["backlog"] == 0  # its stage's topic, as the broker sees it
    assert report["approvals"] == {
        "pending": 0,
        "by_age": {"under 5 min": 0, "5-15 min": 0, "15-60 min": 0, "over 1 h": 0},
        "oldest_s": None,
    }


def test_the_operations_report_is_shared_by_requests_that_come_together(api: Api) -> None:
    """Kafka is asked once for every console that polls at the same time."""
    calls: list[float] = []
    source = api.deps.operations
    assert source is not None

    def slow() -> dict[str, Any]:
        calls.append(time.monotonic())
        time.sleep(0.3)
        return source()

    api.deps.operations = slow
    with api.client("admin") as c, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: c.get("/ops/agents"), range(4)))
        assert [r.status_code for r in answers] == [200] * 4
        assert len(calls) == 1
        assert len({json.dumps(r.json()["agents"], sort_keys=True) for r in answers}) == 1
        time.sleep(OPS_FRESH_S)
        assert c.get("/ops/agents").status_code == 200
    assert len(calls) == 2  # an older report is made anew
