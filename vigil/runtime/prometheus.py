"""Prometheus metrics of an agent replica, served on ``/metrics`` by the replica itself.

Read at scrape time from what the replica already keeps: each agent's counters and
histograms (``agents.metrics``), its consumers' lag and dead letters, its escalation
stage's backlog and oldest age, and its model gateway's calls and latency.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import make_wsgi_app
from prometheus_client.registry import Collector

from agents.metrics import Histogram

if TYPE_CHECKING:
    from agents.service import AgentService

log = logging.getLogger(__name__)

#: ports tried after the configured one, for several replicas on one host
PORT_TRIES = 32


def _histogram(name: str, doc: str, agent: str, h: Histogram) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["agent"])
    buckets = [(("+Inf" if b == float("inf") else f"{b:g}"), n) for b, n in h.counts.items()]
    family.add_metric([agent], buckets, sum_value=h.total)
    return family


class AgentCollector(Collector):
    """Every agent of a replica, read when Prometheus scrapes."""

    def __init__(
        self, services: Callable[[], Sequence[AgentService]], rates: Callable[[], dict[str, float]]
    ) -> None:
        self.services = services
        self.rates = rates

    def collect(self) -> Iterator[Metric]:
        def family(kind: type[Any], name: str, doc: str, *labels: str) -> Any:
            return kind(name, doc, labels=["agent", *labels])

        events = family(CounterMetricFamily, "vigil_agent_events", "Events screened")
        rate = family(GaugeMetricFamily, "vigil_agent_events_per_second",
                      "Events screened a second, between the last two heartbeats")  # fmt: skip
        escalated = family(CounterMetricFamily, "vigil_agent_escalated", "Events escalated")
        outcomes = family(CounterMetricFamily, "vigil_agent_outcomes", "Graph outcomes", "outcome")
        skipped = family(CounterMetricFamily, "vigil_agent_rule_not_applied",
                         "Events a rule could not be applied to", "rule", "why")  # fmt: skip
        lag = family(GaugeMetricFamily, "vigil_agent_consumer_lag",
                     "Records not committed on partitions this replica owns", "topic")  # fmt: skip
        dlq = family(CounterMetricFamily, "vigil_agent_dead_lettered", "Records dead-lettered",
                     "topic")  # fmt: skip
        backlog = family(GaugeMetricFamily, "vigil_agent_escalation_backlog",
                         "Escalations not yet committed on the stage partitions this replica "
                         "owns")  # fmt: skip
        oldest = family(GaugeMetricFamily, "vigil_agent_escalation_oldest_seconds",
                        "Age of the oldest escalation in hand")  # fmt: skip
        running = family(GaugeMetricFamily, "vigil_agent_escalations_running",
                         "Escalation graphs running now")  # fmt: skip
        model_calls = family(CounterMetricFamily, "vigil_agent_model_calls", "Model calls",
                             "model")  # fmt: skip
        model_fail = family(CounterMetricFamily, "vigil_agent_model_failures",
                            "Failed model calls", "model")  # fmt: skip
        model_latency = family(HistogramMetricFamily, "vigil_agent_model_call_seconds",
                               "Latency of one model call")  # fmt: skip
        histograms: list[HistogramMetricFamily] = []
        rates = self.rates()
        for service in self.services():
            name, m = service.name, service.worker.metrics
            with m.lock:
                events.add_metric([name], m.screened)
                escalated.add_metric([name], m.escalated)
                for outcome, n in m.outcomes.items():
                    outcomes.add_metric([name, outcome], n)
                for (rule, why), n in m.not_applied.items():
                    skipped.add_metric([name, rule, why], n)
                histograms.append(_histogram("vigil_agent_batch_seconds",
                                             "One screening batch, events to outputs acknowledged",
                                             name, m.batch_latency))  # fmt: skip
                histograms.append(_histogram("vigil_agent_escalation_seconds",
                                             "One escalation's graph run", name,
                                             m.escalation_latency))  # fmt: skip
            rate.add_metric([name], rates.get(name, 0.0))
            for runner in service.runners:
                lag.add_metric([name, runner.topic], runner.metrics.total_lag)
                dlq.add_metric([name, runner.topic], runner.metrics.dead_lettered)
            stage = service.escalations()
            if stage is not None:
                backlog.add_metric([name], stage["backlog"])
                oldest.add_metric([name], stage["oldest_s"])
                running.add_metric([name], stage["running"])
            gateway = getattr(service.worker.ctx, "gateway", None)
            if gateway is not None:
                snap = gateway.metrics.snapshot()
                for model, n in snap["calls"].items():
                    model_calls.add_metric([name, model], n)
                for model, n in snap["failures"].items():
                    model_fail.add_metric([name, model], n)
                cumulative = [
                    ("+Inf" if b == float("inf") else f"{b:g}", n)
                    for b, n in sorted(snap["latency_buckets"].items())
                ]
                model_latency.add_metric([name], cumulative, sum_value=snap["latency_sum_s"])
        yield from (events, rate, escalated, outcomes, skipped, lag, dlq, backlog, oldest, running)
        yield from (model_calls, model_fail, model_latency)
        yield from _merged(histograms)


def _merged(families: list[HistogramMetricFamily]) -> Iterator[HistogramMetricFamily]:
    """One family per name (a name may be exposed once), with every agent's samples."""
    by_name: dict[str, HistogramMetricFamily] = {}
    for f in families:
        if f.name in by_name:
            by_name[f.name].samples.extend(f.samples)
        else:
            by_name[f.name] = f
    yield from by_name.values()


class _Handler(WSGIRequestHandler):
    """Quiet, and never an HTTP/0.9 answer: a request line of two words (``GET \\t
    HTTP/1.1``: a tab or another byte Python splits on as the target) was answered with
    the bare body, no status line; it gets a status line and headers like any other."""

    default_request_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


#: a replica's health: alive, and what is wrong when it is not (``Replica.alive``)
Health = Callable[[], tuple[bool, dict[str, Any]]]


def _app(registry: CollectorRegistry, health: Health | None) -> Any:
    """``/metrics``, and ``/health``: 200 while every consumer of the replica lives, 503
    naming the dead ones (a container's health check; a liveness probe)."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/health" or health is None:
            return metrics(environ, start_response)
        ok, detail = health()
        body = json.dumps({"alive": ok, **detail}).encode()
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(body)))])  # fmt: skip
        return [body]

    return app


def _serve(
    host: str, port: int, registry: CollectorRegistry, health: Health | None = None
) -> tuple[Any, threading.Thread]:
    server_class = type("MetricsHTTPServer", (_Server,), {
        "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})  # fmt: skip
    httpd: Any = make_server(host, port, _app(registry, health), server_class,
                             handler_class=_Handler)  # fmt: skip
    thread = threading.Thread(target=httpd.serve_forever, name="agent-metrics", daemon=True)
    thread.start()
    return httpd, thread


class MetricsServer:
    """``/metrics`` on ``host:port``; the next free port when several replicas share a host
    (the heartbeat says which: ``metrics_url``)."""

    def __init__(
        self, collector: Collector, host: str, port: int, health: Health | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        tries = 1 if port == 0 else PORT_TRIES
        for candidate in range(port, port + tries):
            try:
                self._server, self._thread = _serve(host, candidate, self.registry, health)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or candidate == port + tries - 1:
                    raise
                continue
            bound = self._server.server_address[1]
            self.url = f"http://{host}:{bound}/metrics"
            break
        if candidate != port and port:
            log.info("port %d in use: agent metrics on %s", port, self.url)
        self.started_at = time.time()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
