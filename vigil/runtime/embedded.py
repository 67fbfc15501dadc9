"""Child server processes that die with their parent.

Each embedded server (Tansu, Valkey) is started with ``PR_SET_PDEATHSIG=SIGKILL`` so
that a SIGKILL of the Vigil process cannot leave an orphan holding a port, in its
own process group so that a Ctrl-C in the terminal reaches Vigil only and Vigil
stops the children in order. Every wait is bounded.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, so start
servers from a thread that lives as long as they should (the main thread, normally).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from vigil.errors import StackError

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    prctl: Callable[..., int] = libc.prctl
    return prctl


# Loaded in the parent: the child between fork and exec may only call what is loaded.
_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child process (a spawned worker): receive ``sig`` when the parent dies.

    Note PR_SET_PDEATHSIG fires when the parent's *thread* that started us exits; Vigil
    starts workers from the main thread."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() == 1:  # the parent is already gone
        os.kill(os.getpid(), sig)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def choose_port(host: str, configured: int, what: str, setting: str) -> int:
    """The configured port if it is free, a free one for 0, else a clear StackError."""
    if configured == 0:
        return free_port(host)
    if not port_is_free(host, configured):
        raise StackError(
            f"cannot start the embedded {what}: port {configured} on {host} is already in use. "
            f"Stop whatever listens there, set {setting}=0 to pick a free port, "
            f"or point Vigil at a running server instead."
        )
    return configured


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ChildServer:
    """One server process: started, waited for until ready, stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        host: str,
        port: int,
        log_path: Path,
        ready: Callable[[], bool],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.host = host
        self.port = port
        self.log_path = log_path
        self._ready = ready
        self._cwd = cwd
        self._env = env
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise StackError(f"{self.name} is not started")
        return self._proc.pid

    def start(self, timeout: float) -> None:
        if not Path(self.argv[0]).is_file():
            raise StackError(f"{self.name}: binary not found at {self.argv[0]}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._cwd,
                    env=self._env,
                    preexec_fn=_die_with_parent(os.getpid()),
                    process_group=0,
                    close_fds=True,
                )
            except OSError as exc:
                raise StackError(f"{self.name}: cannot execute {self.argv[0]}: {exc}") from exc
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise StackError(
                    f"{self.name} exited with code {code} during start-up; "
                    f"last log lines:\n{self.tail_log()}"
                )
            if self._ready():
                return
            time.sleep(0.05)
        self.stop(timeout=2)
        raise StackError(
            f"{self.name} did not become ready on {self.host}:{self.port} within {timeout:.0f} s;"
            f" last log lines:\n{self.tail_log()}"
        )

    def tail_log(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=timeout)
        return proc.returncode

    def __enter__(self) -> ChildServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(timeout=5)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"
