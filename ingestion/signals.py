"""SIGINT and SIGTERM handlers installed for a while, the previous ones back afterwards.

The runner, the CLI, the API server and the replica processes all stop on those two
signals; this is the one place that swaps the handlers (main thread only).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, Any], None]


@contextlib.contextmanager
def on_stop_signals(handler: Handler, signals: Sequence[int] = STOP_SIGNALS) -> Iterator[None]:
    """While inside, ``handler(signum, frame)`` answers these signals."""
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def stop_event() -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets, for a loop that waits on it."""
    stop = threading.Event()
    with on_stop_signals(lambda _signum, _frame: stop.set()):
        yield stop
