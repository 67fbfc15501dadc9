"""Failpoints for crash tests: VIGIL_FAILPOINT=<name> makes the process SIGKILL itself there.

Cheap when unset (one dictionary lookup); never set in production.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    if os.environ.get("VIGIL_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
