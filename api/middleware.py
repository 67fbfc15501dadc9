"""Pure ASGI middleware: request ids, access logs and metrics; request size limits.

Pure ASGI (not BaseHTTPMiddleware) so that SSE responses stream through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id_var
from api.metrics import ApiMetrics
from ingestion import tracing

log = logging.getLogger("vigil.api.access")


class RequestContext:
    """``X-Request-ID`` in (or a new one) and out; one JSON log line and metrics a request."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = raw if 0 < len(raw) <= 128 and raw.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                route = _route(scope)
                self.metrics.requests.labels(scope["method"], route, str(status)).inc()
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            if tracing.enabled():
                await self._traced(scope, receive, send_with_id, rid)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={"method": scope["method"], "path": scope["path"], "status": status,
                       "ms": round((time.perf_counter() - started) * 1000, 1)},
            )  # fmt: skip
            request_id_var.reset(token)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """The request in an ``HTTP <method> <route>`` span, with the request id, the
        status, and a run's id when it starts one (``X-Run-ID``)."""
        with tracing.span(f"HTTP {scope['method']}", **{
            "http.request.method": scope["method"], "url.path": scope["path"],
            "vigil.request_id": rid}) as span:  # fmt: skip

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = dict(message.get("headers") or [])
                    span.update_name(f"HTTP {scope['method']} {_route(scope)}")
                    span.set_attribute("http.route", _route(scope))
                    span.set_attribute("http.response.status_code", message["status"])
                    if run_id := headers.get(b"x-run-id"):
                        span.set_attribute("vigil.run_id", run_id.decode("latin-1"))
                await send(message)

            await self.app(scope, receive, send_traced)


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class BodyGuard:
    """A request body read whole before the app sees it (API bodies are small): 413 when it
    passes ``max_bytes``, whether it says its length or comes chunked; 400 when it is not
    UTF-8, or holds a lone surrogate (``"\\ud800"``), which no response could encode back."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send, 413, f"request body too large: the limit is {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _refuse(
                    send, 413, f"request body too large: the limit is {self.max_bytes} bytes"
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")  # strict: a lone surrogate as raw bytes is not UTF-8
        except UnicodeDecodeError as exc:
            await _refuse(send, 400, f"the body is not valid UTF-8 (byte {exc.start}): "
                                     "send JSON encoded as UTF-8")  # fmt: skip
            return
        where = _lone_surrogate(body)
        if where is not None:
            await _refuse(send, 400, f"the JSON body holds a lone surrogate at {where}: "
                                     "text must be valid Unicode")  # fmt: skip
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(body: bytes) -> str | None:
    """Where a JSON body holds a string with a lone surrogate (``$.a[0]``), or None."""
    if not _SURROGATE_ESCAPE.search(body):
        return None  # the common case: no escape of one at all
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own parsing says what is wrong
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                return path
        elif isinstance(item, dict):
            for k, v in item.items():
                if _has_surrogate(k):
                    return f"{path} (a key)"
                stack.append((f"{path}.{k[:40]}", v))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
    return None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
