"""LangSmith tracing when its variables are set: a graph run with an agent's config reaches
a LangSmith endpoint (an in-process stand-in on 127.0.0.1 that records what it is sent)
named after the agent, with its tags and the subject, and Ray replicas carry the variables."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import ROOT, clean_env
from vigil.runtime.replicas import tracing_env


def test_a_graph_run_is_sent_to_langsmith_named_and_tagged() -> None:
    got: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            got.append((self.command, self.path, self.rfile.read(n) if n else b""))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_PATCH = _record  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**clean_env(), "LANGSMITH_TRACING": "true", "LANGSMITH_API_KEY": "ls-test",
           "LANGSMITH_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
           "LANGSMITH_PROJECT": "vigil-test"}  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "agents" / "langsmith_proc.py"), "tx-42"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    runs = b"".join(body for method, path, body in got if path.startswith("/runs"))
    assert runs, [(m, p) for m, p, _ in got]
    for needle in (b'"vigil.fraud"', b'"agent:fraud"', b'"vigil_subject":"tx-42"',
                   b'"thread_id":"fraud:tx-42"'):  # fmt: skip
        assert needle in runs.replace(b": ", b":"), needle


def test_ray_replicas_carry_the_tracing_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=fraud")
    monkeypatch.setenv("VIGIL_UNRELATED", "x")
    env = tracing_env()
    assert env["LANGSMITH_TRACING"] == "true"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "team=fraud"
    assert "VIGIL_UNRELATED" not in env
