"""``vigil api``: the HTTP API's server (uvicorn), with a collector that waits for quiet."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from graphs.llm import ModelGateway
from ingestion.signals import on_stop_signals
from vigil.settings import Settings
from vigil.wiring.web import app, warm


class QuietCollector:
    """Full collections when no run is streaming, or at the latest every ``every_s``.

    Even frozen, a full collection under load walks what the live runs hold (400k
    objects at 500 streams: 0.3-0.4 s). Young generations are collected as usual; only
    the oldest waits for a quiet moment, so a stall lands between conversations, not in
    the middle of 500 of them. Memory held by cycles grows at most for ``every_s``.
    """

    def __init__(self, busy: Callable[[], bool], every_s: float, check_s: float = 1.0) -> None:
        self.busy = busy
        self.every_s = every_s
        self.check_s = check_s
        self.full_collections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quiet-gc", daemon=True)
        self._old = gc.get_threshold()

    def start(self) -> QuietCollector:
        gen0, gen1, _gen2 = self._old
        gc.set_threshold(gen0, gen1, 1_000_000)  # the oldest generation: only from here
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        gc.set_threshold(*self._old)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.check_s):
            due = time.monotonic() - last >= self.every_s
            if due or (not self.busy() and gc.get_count()[2] > 0):
                gc.collect()
                self.full_collections += 1
                last = time.monotonic()


def serve(
    settings: Settings, *, gateway: ModelGateway | None = None, log_level: str = "INFO"
) -> None:
    """Run the API until SIGINT/SIGTERM: a graceful stop, then exit code 0."""
    import uvicorn

    from api.logs import configure

    configure(log_level)
    application = app(settings, gateway=gateway)
    warm(application.state.vigil.deps)
    collector = None
    if settings.api_gc_full_every_s > 0:
        hub = application.state.vigil.hub
        collector = QuietCollector(hub.busy, settings.api_gc_full_every_s).start()
    config = uvicorn.Config(
        application,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    try:
        _Server(config).run()
    finally:
        if collector is not None:
            collector.stop()
        close = application.state.vigil.deps.close
        if close is not None:
            close()


class _Server:
    """uvicorn's server, stopping on a signal without re-raising it at the end (uvicorn
    re-raises so a process dies by the signal; a stop that was asked for is a clean exit)."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        self.server = uvicorn.Server(config)
        self.server.capture_signals = self._capture  # type: ignore[method-assign]

    @contextlib.contextmanager
    def _capture(self) -> Iterator[None]:
        def stop(signum: int, frame: Any) -> None:
            if self.server.should_exit:  # a second signal: do not wait for open streams
                self.server.force_exit = True
            self.server.should_exit = True

        with on_stop_signals(stop):
            yield

    def run(self) -> None:
        self.server.run()
