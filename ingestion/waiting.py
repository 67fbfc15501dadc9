"""Polling for a condition: the demo, the benchmarks and the eval replay wait with it."""

from __future__ import annotations

import time
from collections.abc import Callable

from ingestion.errors import WaitTimeoutError


def wait_until(
    check: Callable[[], bool], what: str, *, timeout: float = 120.0, every: float = 0.2
) -> None:
    """Return once ``check()`` is true; raise :class:`WaitTimeoutError` naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)
