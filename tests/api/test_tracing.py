"""Traces over OTLP, received by an in-process collector on 127.0.0.1 that speaks the
protocol (protobuf over HTTP, decoded with OpenTelemetry's own message types): the London
-> Paris story's spans from consume to effect, and an API request's with its run id."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from httpx_sse import connect_sse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ingestion import tracing
from tests.agents.test_fraud_e2e import World, answer, london_paris, pending_count
from tests.agents.test_fraud_e2e import world as world
from tests.api.conftest import Api, events_of
from tests.conftest import base_settings, wait_for

pytestmark = pytest.mark.slow


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class Collector:
    """An OTLP/HTTP trace receiver: every span it was sent, with its resource."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for rs in request.resource_spans:
                    resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            spans.append({
                                "name": sp.name, "trace": sp.trace_id.hex(),
                                "id": sp.span_id.hex(), "parent": sp.parent_span_id.hex(),
                                "attributes": {a.key: _value(a.value) for a in sp.attributes},
                                "resource": resource, "path": self.path,
                            })  # fmt: skip
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def named(self, prefix: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"].startswith(prefix)]


@pytest.fixture
def collector() -> Iterator[Collector]:
    """The collector, and this process tracing to it for the test (off again after)."""
    found = Collector()
    found.thread.start()
    s = base_settings(otel_endpoint=found.url, otel_service_name="vigil-test")
    assert tracing.configure(s, "test")
    try:
        yield found
    finally:
        tracing.shutdown()
        found.server.shutdown()
        found.server.server_close()


def test_the_story_is_traced_from_consume_to_effect(collector: Collector, world: World) -> None:
    atm, coffee = london_paris()
    world.producer.publish([atm, coffee])
    wait_for(lambda: pending_count(world) == 1, 60, "one pending approval")
    answer(world, "approve")
    wait_for(lambda: world.agent.worker.metrics.blocked == 1, 60, "the block")

    def resumed_span_in() -> bool:  # it ends once the resumed graph has returned
        tracing.flush()
        return any(g["attributes"].get("vigil.decision") == "approve"
                   for g in collector.named("vigil.graph fraud"))  # fmt: skip

    wait_for(resumed_span_in, 10, "the resumed graph's span")
    spans = collector.spans
    assert {s["path"] for s in spans} == {"/v1/traces"}
    assert {s["resource"]["service.name"] for s in spans} == {"vigil-test"}
    topic = world.settings.topic_transactions
    consumed = [s for s in collector.named(f"vigil.consume {topic}")]
    assert consumed
    assert consumed[0]["attributes"]["messaging.system"] == "kafka"
    by_id = {s["id"]: s for s in spans}
    screens = collector.named("vigil.screen fraud")
    assert screens
    for screen in screens:  # each screening inside the batch it handled
        parent = by_id[screen["parent"]]
        assert parent["name"] == f"vigil.consume {topic}"
        assert parent["trace"] == screen["trace"]
    graphs = collector.named("vigil.graph fraud")
    ran = [g for g in graphs if g["attributes"].get("vigil.subject") == coffee.transaction_id]
    assert [g["attributes"]["vigil.outcome"] for g in ran] == ["waiting"]
    assert ran[0]["attributes"]["vigil.thread_id"] == f"fraud:{coffee.transaction_id}"
    [resumed] = [g for g in graphs if g["attributes"].get("vigil.decision") == "approve"]
    assert resumed["attributes"]["vigil.approval_id"] == f"appr-{coffee.transaction_id}"
    effects = {(s["attributes"]["vigil.effect.kind"], s["attributes"]["vigil.effect.key"])
               for s in collector.named("vigil.effect")}  # fmt: skip
    assert ("approval-request", f"appr-{coffee.transaction_id}") in effects
    assert ("block", coffee.transaction_id) in effects
    # the block is published inside the resumed graph's span, in its trace
    [block] = [s for s in collector.named("vigil.effect block")
               if s["attributes"]["vigil.effect.applied"]]  # fmt: skip
    assert block["trace"] == resumed["trace"]


def test_an_api_request_is_traced_with_its_run(collector: Collector, api: Api) -> None:
    with (
        api.client("john") as c,
        connect_sse(c, "POST", "/chat/t-traced", json={"message": "Hello"}) as es,
    ):
        run_id = es.response.headers["x-run-id"]
        request_id = es.response.headers["x-request-id"]
        list(events_of(es))
    # the request's span ends once the server has sent the stream's last byte
    wait_for(lambda: tracing.flush() and collector.named("HTTP POST"), 10, "the request's span")
    [chat] = collector.named("HTTP POST /chat/{thread_id}")
    attrs = chat["attributes"]
    assert attrs["vigil.run_id"] == run_id
    assert attrs["vigil.request_id"] == request_id
    assert (attrs["http.response.status_code"], attrs["url.path"]) == (200, "/chat/t-traced")


def test_a_missing_sdk_is_named_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def without_sdk(name: str, *args: Any, **kw: Any) -> Any:
        if name.startswith("opentelemetry.sdk"):
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", without_sdk)
    with pytest.raises(tracing.TracingUnavailableError, match=r"pip install 'vigil\[otel\]'"):
        tracing.configure(base_settings(otel_endpoint="http://127.0.0.1:9"), "test")
    assert not tracing.enabled()
    assert not tracing.configure(base_settings(), "test")  # unset: off, nothing loaded
