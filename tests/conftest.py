"""Fixtures: a real Tansu broker and a real Redis on 127.0.0.1, isolated per test.

One broker per session (it starts in milliseconds, but group state is cheap to keep);
every test gets its own topic names and consumer groups, and its own Redis key prefix
that is deleted when the test ends.

Under pytest-xdist every worker is its own process, so the session fixtures give each
worker its own broker (and its own embedded Valkey when there is no local Redis); on the
machine's Redis each worker gets a database of its own (1 + the worker's index), and the
per-test key prefixes keep tests apart within it. Child processes get the URL from the
test's settings, so they land in the same database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, sync_playwright

from graphs.llm import guard as model_guard
from ingestion import failpoints
from ingestion.kafka import ensure_topics
from vigil.runtime.embedded import ChildServer, free_port, tcp_reachable
from vigil.runtime.stack import redis_ping, tansu_server, valkey_server
from vigil.settings import Settings, Stream
from vigil.wiring.models import gguf_path


def xdist_worker() -> int | None:
    """This process's pytest-xdist worker index (gw0 -> 0), or None outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def local_redis_url() -> str:
    """The machine's Redis: database 0 in a plain run, 1 + the worker index under xdist
    (a default Redis has 16 databases; past 15 workers two share one, prefixes still
    keep their tests apart)."""
    worker = xdist_worker()
    return f"redis://127.0.0.1:6379/{0 if worker is None else 1 + worker % 15}"


LOCAL_REDIS = local_redis_url()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# no background connections: the machine's network is closed, Chromium must not reach out
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ROOT = Path(__file__).resolve().parents[1]


#: Tansu answers a group join after half the session timeout, rounded up to a whole second
#: (measured: 10000 ms -> 5.0 s, 6000 -> 3.0 s, 4000 -> 2.0 s, 2500 -> 2.0 s, 2000 -> 1.0 s).
#: Most tests start consumers, so 2 s takes a second off each join; a member may still
#: miss 4 heartbeats (every 500 ms, from a thread of their own) before the broker drops it.
SESSION_TIMEOUT_MS = 2000
#: no model: its server refuses the connection and the rules decide every escalation (a
#: deployment without a model, or with fraud_wait_for_model off during an outage)
NO_MODEL: dict[str, Any] = {
    "llm": "openai-compatible:none@http://127.0.0.1:9/v1",
    "fraud_wait_for_model": False,
}


#: the tests' lake key: their servers are "external" (started by fixtures), so the
#: development default is refused (``Settings._lake_key``)
LAKE_KEY = "test-lake-key-0123456789abcdef0123456789"


def base_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's .env (the environment is cleaned per test)."""
    values: dict[str, Any] = {
        "lake_hash_key": LAKE_KEY,
        "kafka_session_timeout_ms": SESSION_TIMEOUT_MS,
        "kafka_heartbeat_interval_ms": 500,
        "runner_retry_backoff_s": 0.05,
        "agents_metrics_port": 0,  # a free port for every replica a test starts
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def clean_env() -> dict[str, str]:
    """The environment for child processes, without any VIGIL_* from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["PYTHONPATH"] = str(ROOT)
    env["VIGIL_LAKE_HASH_KEY"] = LAKE_KEY
    env["COLUMNS"] = "200"  # rich wraps at 80 columns when stdout is not a terminal
    env["VIGIL_AGENTS_METRICS_PORT"] = "0"  # replicas of parallel tests never share a port
    # the in-process tests' group timing (base_settings): with the default 10 s session,
    # every consumer a child starts waits 5 s for Tansu to answer its join (1 s with this)
    env["VIGIL_KAFKA_SESSION_TIMEOUT_MS"] = str(SESSION_TIMEOUT_MS)
    env["VIGIL_KAFKA_HEARTBEAT_INTERVAL_MS"] = "500"
    return env


# -- running in parallel (pytest-xdist, `--dist loadgroup`; see .ci/test) -------------------
#
# Tests that must not run beside each other share an xdist group, and so a worker, one
# after the other. A test takes the first group it belongs to. A group's reason is its name:
#   heavy        the long runs that take both cores and kill or restart processes (the
#                model-driven evals, the replicas, Ray, the crash test, the reliability
#                bench): on a 2-core machine two of them side by side starve each other
#                past their waits (measured: a Ray replica never got its partitions in
#                180 s, a real model's answers timed out), so they run one after another
#                while the other worker takes the rest of the suite
#   local-model  SmolLM2 on llama.cpp takes both cores for every token: two at a time only
#                slow each other down, and one worker loads the model once for them all
# Every worker collects the same list; the workers hand out the slowest tests first.
HEAVY_FILES = {
    "tests/evals/test_eval_cli.py",
    "tests/evals/test_eval_offline.py",
    "tests/vigil/test_replicas.py",
    "tests/agents/test_fraud_crashes.py",
}
HEAVY_TESTS = {"test_bench_reliability_reduced_keeps_the_books"}
XDIST_GROUPS: dict[str, Any] = {
    "heavy": lambda item: (
        item.nodeid.split("::")[0] in HEAVY_FILES
        or item.name in HEAVY_TESTS
        or "local_ray" in item.fixturenames
    ),
    "local-model": lambda item: item.get_closest_marker("real_model") is not None,
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for group, belongs in XDIST_GROUPS.items():
            if belongs(item):
                item.add_marker(pytest.mark.xdist_group(group))
                break
    if xdist_worker() is not None:
        # longest first, so that no long test starts when the others are done (stable:
        # within each kind the order stays the files' order)
        items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)


@pytest.fixture(autouse=True)
def _no_outside_vigil_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's VIGIL_* variables must not leak into what a test sees."""
    for name in list(os.environ):
        if name.startswith("VIGIL_"):
            monkeypatch.delenv(name)
    failpoints.reset()  # read once per process: forget what an earlier test armed


@pytest.fixture(autouse=True)
def _no_real_models(request: pytest.FixtureRequest) -> Iterator[None]:
    """Any request to a real model fails, unless the test is marked real_model."""
    if request.node.get_closest_marker("real_model"):
        yield
        return
    with model_guard.blocked():
        yield


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def kafka_bootstrap(servers_dir: Path) -> Iterator[str]:
    settings = base_settings()
    server = tansu_server(settings, servers_dir, free_port())
    server.start(timeout=20)
    try:
        yield f"{server.host}:{server.port}"
    finally:
        server.stop(timeout=10)


@pytest.fixture(scope="session")
def embedded_valkey_url(servers_dir: Path) -> Iterator[str]:
    """The embedded Valkey 9, always (the server Vigil ships as its default)."""
    server: ChildServer = valkey_server(base_settings(), servers_dir, free_port())
    server.start(timeout=20)
    try:
        yield f"redis://{server.host}:{server.port}/0"
    finally:
        server.stop(timeout=10)


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """127.0.0.1:6379 when a Redis runs there, else the embedded Valkey."""
    if redis_ping(LOCAL_REDIS, timeout=0.5):
        return LOCAL_REDIS
    url: str = request.getfixturevalue("embedded_valkey_url")
    return url


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def redis_client(redis_url: str, uid: str) -> Iterator[tuple[redis.Redis, str]]:
    """A client and this test's key prefix; the test's keys are deleted afterwards."""
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uid}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def settings(kafka_bootstrap: str, redis_url: str, tmp_path: Path, uid: str) -> Settings:
    """Settings on the test servers, with topic names and groups unique to this test."""
    topics = {f"topic_{s.name.lower()}": f"{s.value}.{uid}" for s in Stream}
    s = base_settings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        kafka_group_prefix=f"test.{uid}",
        **topics,
    )
    ensure_topics(s)
    return s


def run_vigil(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=timeout,
        cwd=cwd or ROOT,
        check=False,
    )


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright. (Sync Playwright runs an event loop
    in this thread while open: start it after any asyncio.run of the test.)"""
    if not shutil.which("chromium"):
        pytest.fail("the browser test needs Debian's chromium: .ci/setup installs it (apt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def openai_compatible(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server with SmolLM2 on a free loopback port: a real
    model server that keeps connections alive, as hosted ones do. An 8192-token context
    (SmolLM2's own): the eval judge's prompt carries the assistant's whole context."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path(base_settings())),
             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", "8192", "--n_threads", "2", "--verbose", "false"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if tcp_reachable("127.0.0.1", port):
                break
            time.sleep(0.1)
        assert proc.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
