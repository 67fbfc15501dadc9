"""Prometheus metrics of one app (its own registry: several apps may share a process)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from graphs.llm import ModelMetrics

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _ModelCollector(Collector):
    """The model gateway's counters, read at scrape time."""

    def __init__(self, metrics: ModelMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self.metrics.snapshot()
        calls = CounterMetricFamily("vigil_model_calls", "Model calls", labels=["model"])
        for model, n in snap["calls"].items():
            calls.add_metric([model], n)
        yield calls
        fails = CounterMetricFamily("vigil_model_failures", "Failed model calls", labels=["model"])
        for model, n in snap["failures"].items():
            fails.add_metric([model], n)
        yield fails
        tokens = CounterMetricFamily("vigil_model_tokens", "Model tokens", labels=["direction"])
        tokens.add_metric(["input"], snap["input_tokens"])
        tokens.add_metric(["output"], snap["output_tokens"])
        yield tokens


class ApiMetrics:
    def __init__(self, model: ModelMetrics | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "vigil_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "vigil_http_request_seconds", "Time to the response's headers", ["route"],
            buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.streams = Gauge("vigil_sse_streams_open", "Open SSE streams", ["kind"], registry=r)
        self.runs_started = Counter("vigil_runs_started", "Runs started", ["assistant"], registry=r)
        self.runs_ended = Counter(
            "vigil_runs_ended", "Runs ended", ["assistant", "status"], registry=r
        )
        self.first_event = Histogram(
            "vigil_run_first_event_seconds", "Run start to its first event",
            buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.events = Counter("vigil_stream_events", "SSE events sent", ["event"], registry=r)
        self.decisions = Counter(
            "vigil_approval_decisions", "Approval decisions sent", ["decision"], registry=r
        )
        self.refusals = Counter("vigil_auth_refusals", "401/403 answers", ["status"], registry=r)
        if model is not None:
            r.register(_ModelCollector(model))
