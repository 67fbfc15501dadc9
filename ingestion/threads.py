"""Consumer threads whose death is recorded, never silent: a thread that raises leaves
its name and why in a ``dead`` map the process reports (heartbeat, /ready) and acts on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping

log = logging.getLogger(__name__)


def start_guarded(
    target: Callable[[], object], name: str, dead: MutableMapping[str, str]
) -> threading.Thread:
    """Start ``target`` in a daemon thread; if it raises, ``dead[name]`` says why."""

    def run() -> None:
        try:
            target()
        except Exception as exc:
            dead[name] = f"{type(exc).__name__}: {exc}"[:1000]
            log.critical("thread %s died: %s", name, dead[name], exc_info=True)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
