"""Traces of Vigil's work in OpenTelemetry, sent over OTLP (HTTP) when
``VIGIL_OTEL_ENDPOINT`` is set; off by default, and then free: ``span`` does nothing.

The spans, each with the ids that join it to the rest:

- ``vigil.consume``: a batch a consumer group took from a topic (topic, group, partitions,
  count), around the handler's work on it;
- ``vigil.screen``: an agent screening that batch (its agent and count);
- ``vigil.graph``: one graph run of an agent (its thread, and the subject: a fraud run's
  transaction id);
- ``vigil.effect``: an effect published once (a block, an alert, an approval request: its
  kind and key, and whether this call applied it);
- ``HTTP <method> <route>``: an API request (its request id, and a run's id).

The SDK and its OTLP exporter are an optional extra (``pip install 'vigil[otel]'``); the
setting without them is refused at start, naming the extra. Vigil keeps its own tracer
provider (not the process-wide one), so a test or an embedding application decides what
else is traced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

from vigil.settings import Settings

log = logging.getLogger(__name__)

_provider: Any = None
_tracer: Any = None


class TracingUnavailableError(RuntimeError):
    """Tracing is configured but OpenTelemetry's SDK is not installed."""


def enabled() -> bool:
    return _tracer is not None


def configure(settings: Settings, service: str) -> bool:
    """Start exporting this process's spans if ``otel_endpoint`` is set (once a process;
    True when tracing is on)."""
    global _provider, _tracer
    if _tracer is not None or not settings.otel_endpoint:
        return _tracer is not None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TracingUnavailableError(
            "VIGIL_OTEL_ENDPOINT is set but OpenTelemetry's SDK is not installed: "
            "pip install 'vigil[otel]'"
        ) from exc
    resource = Resource.create({
        "service.name": settings.otel_service_name, "service.namespace": "vigil",
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
        "vigil.process": service,
    })  # fmt: skip
    provider = TracerProvider(resource=resource)
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    _provider, _tracer = provider, provider.get_tracer("vigil")
    log.info("tracing to %s as %s (%s)", endpoint, settings.otel_service_name, service)
    return True


def flush(timeout_s: float = 5.0) -> bool:
    """Send the spans ended so far (a process about to exit, a test)."""
    return bool(_provider.force_flush(int(timeout_s * 1000))) if _provider is not None else True


def shutdown() -> None:
    """Flush and stop exporting; tracing is off again (a test's end)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span around the block (None when tracing is off); attributes left None are not
    set. Set more on the span with ``span.set_attribute`` once they are known."""
    if _tracer is None:
        yield None
        return
    clean = {k: v for k, v in attributes.items() if v is not None}
    with _tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


def consuming(handler: Callable[[Any], Any], topic: str, group: str, batch: Any) -> Any:
    """``handler(batch)`` in the ``vigil.consume`` span of a batch a group took from
    ``topic`` (records with a ``partition``: the batch's size and partitions)."""
    with span(
        f"vigil.consume {topic}", **{
            "messaging.system": "kafka", "messaging.operation.type": "process",
            "messaging.destination.name": topic, "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(batch),
            "vigil.partitions": sorted({r.partition for r in batch}),
        },
    ):  # fmt: skip
        return handler(batch)
