"""Recording which tools a graph really calls, without touching the graph.

The graphs reach their tools through the ``ToolContext`` in their runtime context. For an
eval the stores in it are wrapped: each call of a tool method is written to the case's
:class:`Trajectory` under the tool's catalog name, then passed through unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ingestion.contracts import Event
from tools.context import ToolContext

#: store method -> the tool's catalog name (``tools/catalog.py``)
TOOL_METHODS: dict[str, dict[str, str]] = {
    "profiles": {"get": "customer_lookup", "customers_in": "affected_customers"},
    "retriever": {"search": "search_knowledge"},
    "blocks": {"block": "block_transaction"},
    "alerts": {"notify": "send_alert", "send": "send_alert"},
    "lake": {"write_decision": "record_decision"},
}
#: tools that act on the world; the chat graph must never reach one
ACTION_TOOLS = ("block_transaction", "send_alert", "record_decision")


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: tuple[Any, ...]

    def first_arg(self) -> Any:
        return self.args[0] if self.args else None


@dataclass
class Trajectory:
    calls: list[ToolCall] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, name: str, args: Sequence[Any]) -> None:
        with self.lock:
            self.calls.append(ToolCall(name, tuple(args)))

    @property
    def names(self) -> list[str]:
        with self.lock:
            return [c.name for c in self.calls]

    def of(self, name: str) -> list[ToolCall]:
        with self.lock:
            return [c for c in self.calls if c.name == name]


class Recording:
    """A store whose named methods are recorded as tool calls (everything else passes)."""

    def __init__(self, inner: Any, methods: dict[str, str], trajectory: Trajectory) -> None:
        self._inner = inner
        self._methods = methods
        self._trajectory = trajectory

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        tool = self._methods.get(attr)
        if tool is None or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._trajectory.record(tool, args)
            return value(*args, **kwargs)

        return call


def recording(tools: ToolContext, trajectory: Trajectory) -> ToolContext:
    """The same tool context, its stores recording into ``trajectory``."""
    wrapped: dict[str, Any] = {
        name: Recording(getattr(tools, name), methods, trajectory)
        for name, methods in TOOL_METHODS.items()
    }
    return replace(tools, **wrapped)


class RecordingPublisher:
    """Publishes through ``inner`` (the real producer) and keeps what it published."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.events: list[Event] = []
        self._sent: dict[int, Event] = {}  # sent, not yet acknowledged
        self._lock = threading.Lock()

    def publish(self, events: Any, *, topic: str | None = None, timeout: float = 30.0) -> list[Any]:
        batch = list(events)
        out: list[Any] = self.inner.publish(batch, topic=topic, timeout=timeout)
        with self._lock:
            self.events.extend(batch)
        return out

    def send(self, event: Event, *, topic: str | None = None, headers: Any = ()) -> Any:
        """Sent through ``inner`` without waiting; kept once ``wait`` saw it acknowledged
        (as ``publish`` keeps only what the broker took)."""
        future = self.inner.send(event, topic=topic, headers=headers)
        with self._lock:
            self._sent[id(future)] = event
        return future

    def wait(self, futures: Any, timeout: float = 30.0) -> list[Any]:
        try:
            out: list[Any] = self.inner.wait(futures, timeout)
        except BaseException:  # not acknowledged: not kept, and not left behind either
            with self._lock:
                for f in futures:
                    self._sent.pop(id(f), None)
            raise
        with self._lock:
            self.events.extend(e for f in futures if (e := self._sent.pop(id(f), None)))
        return out

    def of(self, model: type[Any]) -> list[Any]:
        with self._lock:
            return [e for e in self.events if isinstance(e, model)]
