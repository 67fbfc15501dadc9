"""Where a benchmark's work went: the CPU time this process and each embedded server
spent over a run, per event.

Screening's rate on a machine of two cores depends on more than its own code: the Redis
script of the behaviour features and the broker share the cores with it. A rate alone
does not say which of them grew; the CPU each spent per event does. Read from Linux's
``/proc`` (a server's time includes its waited-for children: Valkey's append-only file
rewrites); a server this process did not start, or another system, reads as unknown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

#: this process's own name in a reading
SELF = "vigil"


def process_cpu_s(pid: int) -> float | None:
    """User and system time of ``pid`` and of its waited-for children, in seconds (None:
    no such process, or no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # after the command's name (in parentheses, which may hold spaces): state
            # first, then utime, stime, cutime, cstime as the 12th to 15th fields
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = sum(int(x) for x in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Reading:
    """CPU seconds by process name (None: unknown) at a moment."""

    cpu_s: Mapping[str, float | None]

    def per_event_us(self, later: Reading, events: int) -> dict[str, float | None]:
        """Each process's CPU from this reading to ``later``, in microseconds an event."""
        out: dict[str, float | None] = {}
        for name, before in self.cpu_s.items():
            after = later.cpu_s.get(name)
            if before is None or after is None or events <= 0:
                out[name] = None
            else:
                out[name] = (after - before) / events * 1e6
        return out


class CpuMeter:
    """Reads this process's CPU time and that of the servers ``servers`` names (name ->
    pid: the embedded stack's children)."""

    def __init__(self, servers: Mapping[str, int]) -> None:
        self.servers = dict(servers)

    def read(self) -> Reading:
        cpu: dict[str, float | None] = {SELF: time.process_time()}
        cpu.update((name, process_cpu_s(pid)) for name, pid in self.servers.items())
        return Reading(cpu)


def said(per_event: Mapping[str, float | None]) -> str:
    """``vigil 80 us, redis 55 us, kafka 8 us`` (unknown: ``?``)."""
    return ", ".join(
        f"{name} {'?' if us is None else f'{us:.0f}'} us" for name, us in per_event.items()
    )
