"""Agents in replicas: local worker processes or Ray actors, each one member of every
agent's consumer group (partitions are the unit of parallelism), kept alive by a supervisor.

A :class:`Replica` builds everything it runs inside its own process: the Kafka producer,
the Redis clients, the model, the embedder, the agents and the context ingestion. Only
settings cross from the driver, never a client. It reports a heartbeat to Redis every
second (``<prefix>:replicas:<id>``: partitions owned, lag, counters), which is what
``vigil agents status`` and the supervisor read. Draining finishes the batch in hand,
commits it and leaves the groups, so the partitions move to the others at once.

:class:`ReplicaSet` keeps N replicas: local processes (restarted by the supervisor when
one dies) or Ray actors (restarted by Ray: ``max_restarts=-1``); ``scale(n)`` starts new
ones or drains the newest.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import secrets
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ingestion.signals import stop_event
from vigil.errors import VigilError
from vigil.runtime.embedded import die_with_parent
from vigil.runtime.replica import EXIT_DEAD_CONSUMER, Replica
from vigil.runtime.status import HEARTBEAT_S
from vigil.settings import Settings

if TYPE_CHECKING:
    from agents.service import Part

log = logging.getLogger(__name__)

__all__ = ["EXIT_DEAD_CONSUMER", "Replica", "ReplicaSet", "start_ray"]

# -- the two ways to run a replica ---------------------------------------------------------------


class Handle(Protocol):
    replica_id: str

    def start(self) -> None: ...

    def alive(self) -> bool: ...

    def kill(self) -> None: ...

    def drain(self, timeout: float) -> None: ...


def _process_main(
    settings: Settings, agents: list[str], replica_id: str, ingest: bool, beat_s: float,
    part: Part = "all",
) -> None:  # fmt: skip
    """A worker process: run the replica until SIGTERM/SIGINT, then drain and exit 0."""
    die_with_parent(signal.SIGTERM)
    with stop_event() as stop:
        replica = Replica(settings, agents, replica_id, ingest=ingest, beat_s=beat_s, part=part)
        while not stop.wait(0.5) and not replica.failed.is_set():
            pass
        replica.drain()
    if replica.failed.is_set():
        sys.exit(EXIT_DEAD_CONSUMER)  # the supervisor starts a new one


@dataclass
class _ReplicaSpec:
    """What a replica runs; only this crosses to the process or actor that builds it."""

    replica_id: str
    settings: Settings
    agents: list[str]
    ingest: bool = True
    beat_s: float = HEARTBEAT_S
    part: Part = "all"


@dataclass
class ProcessReplica(_ReplicaSpec):
    """A replica in a local worker process (spawned: nothing is inherited but settings)."""

    proc: Any = None

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.proc = ctx.Process(
            target=_process_main,
            args=(self.settings, self.agents, self.replica_id, self.ingest, self.beat_s, self.part),
            name=f"vigil-{self.replica_id}",
        )
        self.proc.start()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else int(self.proc.pid)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def kill(self) -> None:
        """SIGKILL: no drain, no commit (what a crash looks like)."""
        if self.proc is not None and self.proc.pid:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.join(10)

    def drain(self, timeout: float) -> None:
        if self.proc is None or not self.proc.is_alive():
            return
        self.proc.terminate()  # SIGTERM: the replica drains
        self.proc.join(timeout)
        if self.proc.is_alive():
            log.warning("%s did not drain in %.0f s: killed", self.replica_id, timeout)
            self.kill()


class _RayReplica:
    """The actor: a Replica built in the actor's own process (Ray re-runs this on restart)."""

    def __init__(
        self, settings: Settings, agents: list[str], replica_id: str, ingest: bool, beat_s: float,
        part: Part = "all",
    ) -> None:  # fmt: skip
        self.replica = Replica(settings, agents, replica_id, ingest=ingest, beat_s=beat_s,
                               part=part)  # fmt: skip
        threading.Thread(target=self._end_if_failed, name="failed", daemon=True).start()

    def _end_if_failed(self) -> None:
        """A dead consumer ends the actor's process: Ray restarts it."""
        self.replica.failed.wait()
        with contextlib.suppress(Exception):
            self.replica.drain(10.0)
        os._exit(EXIT_DEAD_CONSUMER)

    def health(self) -> dict[str, Any]:
        return self.replica.health()

    def drain(self, timeout: float) -> dict[str, Any]:
        return self.replica.drain(timeout)


#: the environment that turns on tracing outside Vigil's settings: LangSmith's (LangChain
#: reads it in every process) and OpenTelemetry's own
TRACING_ENV = ("LANGSMITH_", "LANGCHAIN_", "OTEL_")


def tracing_env() -> dict[str, str]:
    """This process's tracing variables, for Ray actors (which start from the cluster's
    environment, not the driver's: a replica on another node would trace nothing)."""
    return {k: v for k, v in os.environ.items() if k.startswith(TRACING_ENV)}


@dataclass
class RayReplica(_ReplicaSpec):
    cpus: float = 1.0
    actor: Any = None

    def start(self) -> None:
        import ray

        cls = ray.remote(max_restarts=-1, max_task_retries=0, num_cpus=self.cpus)(_RayReplica)
        self.actor = cls.options(
            name=f"vigil-{self.replica_id}", lifetime=None, runtime_env={"env_vars": tracing_env()}
        ).remote(self.settings, self.agents, self.replica_id, self.ingest, self.beat_s, self.part)

    def health(self, timeout: float = 10.0) -> dict[str, Any] | None:
        import ray

        try:
            beat: dict[str, Any] = ray.get(self.actor.health.remote(), timeout=timeout)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            log.warning("%s did not answer its health check: %s", self.replica_id, exc)
            return None
        return beat

    def alive(self) -> bool:
        return self.health() is not None

    def kill(self) -> None:
        """Kill the actor's process; Ray restarts it (a crash, as the cluster sees it)."""
        import ray

        ray.kill(self.actor, no_restart=False)

    def drain(self, timeout: float) -> None:
        import ray

        try:
            ray.get(self.actor.drain.remote(timeout), timeout=timeout + 10)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            log.warning("%s did not drain: %s", self.replica_id, exc)
        ray.kill(self.actor, no_restart=True)


def start_ray(address: str) -> None:
    """Join a Ray cluster by address, or (``local``) start one bound to 127.0.0.1 only.

    A local Ray gets token authentication with a token of this run only, and every one of
    its servers listens on 127.0.0.1 only. Both are set in the environment before Ray is
    imported (Ray reads them once per process): Ray 2.60 turns ``_node_ip_address=
    "127.0.0.1"`` into the machine's address and binds its gRPC servers to every
    interface, unless multi-node networking is off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
    makes the node address the loopback one, and then the servers bind to it alone).
    """
    if address == "local":
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    if ray.is_initialized():
        return
    if address == "local":
        ray.init(
            address="local",
            include_dashboard=False,
            log_to_driver=False,
            num_cpus=max(2, os.cpu_count() or 2),
        )
    else:
        ray.init(address=address, log_to_driver=False)


@dataclass
class ReplicaSet:
    """N replicas of the same agents; dead ones are restarted (by us, or by Ray)."""

    settings: Settings
    agents: list[str]
    backend: str = "process"  # or "ray"
    #: each replica also runs the context ingestion (profiles, knowledge) as a group member
    ingest: bool = True
    #: how often each replica writes its heartbeat (benchmarks read it finer)
    beat_s: float = HEARTBEAT_S
    #: what each replica runs of its agents (``agents.service.Part``)
    part: Part = "all"
    replicas: list[Any] = field(default_factory=list)
    restarts: int = 0
    _next: int = 0

    def _new(self) -> Any:
        kind = "-escalations" if self.part == "escalations" else ""
        rid = f"{self.backend}{kind}-{self._next}"
        self._next += 1
        args = (rid, self.settings, self.agents, self.ingest, self.beat_s, self.part)
        if self.backend == "ray":
            return RayReplica(*args)
        if self.backend == "process":
            return ProcessReplica(*args)
        raise VigilError(f"unknown replica backend {self.backend!r}: process or ray")

    def scale(self, n: int, timeout: float = 60.0) -> None:
        """Start replicas up to ``n``, or drain the newest down to ``n``."""
        if n < 0:
            raise VigilError("replicas: give a number >= 0")
        while len(self.replicas) < n:
            replica = self._new()
            replica.start()
            self.replicas.append(replica)
        while len(self.replicas) > n:
            self.replicas.pop().drain(timeout)

    def supervise(self) -> list[str]:
        """Restart dead worker processes (Ray restarts its actors itself); their ids."""
        restarted: list[str] = []
        if self.backend != "process":
            return restarted
        for replica in self.replicas:
            if not replica.alive():
                log.warning("%s died (exit %s): restarting it", replica.replica_id,
                            replica.proc.exitcode if replica.proc else None)  # fmt: skip
                replica.start()
                self.restarts += 1
                restarted.append(replica.replica_id)
        return restarted

    def stop(self, timeout: float = 60.0) -> None:
        self.scale(0, timeout)
