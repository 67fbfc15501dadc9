"""Failpoints for crash tests: VIGIL_FAILPOINT=<name> makes the process SIGKILL itself there.

The variable is read once, at the first failpoint a process reaches (crash tests start a
child process with it set), so a failpoint on a hot path costs one comparison; never set
in production. A test that changes the variable inside its own process calls ``reset()``.
"""

from __future__ import annotations

import os
import signal

_armed: str | None = None
_read = False


def armed() -> str | None:
    """The failpoint this process dies at, if any (VIGIL_FAILPOINT, read once)."""
    global _armed, _read
    if not _read:
        _armed, _read = os.environ.get("VIGIL_FAILPOINT"), True
    return _armed


def reset() -> None:
    """Forget what was read, so the next failpoint reads VIGIL_FAILPOINT again."""
    global _armed, _read
    _armed, _read = None, False


def failpoint(name: str) -> None:
    if (_armed if _read else armed()) == name:
        os.kill(os.getpid(), signal.SIGKILL)
