"""One replica: every named agent (and the context ingestion) running in this process,
with its heartbeat to Redis and its Prometheus metrics. ``vigil.runtime.replicas`` runs
replicas as worker processes or Ray actors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from vigil.runtime.status import HEARTBEAT_S, STALE_S, heartbeat_key
from vigil.settings import Settings

if TYPE_CHECKING:
    from agents.service import Part

log = logging.getLogger(__name__)

#: a replica's exit status when one of its consumers died
EXIT_DEAD_CONSUMER = 70


class Replica:
    """Every named agent (and the context ingestion) running in this process."""

    def __init__(
        self,
        settings: Settings,
        agents: Sequence[str],
        replica_id: str,
        *,
        ingest: bool = True,
        beat_s: float = HEARTBEAT_S,
        part: Part = "all",
    ) -> None:
        from agents.registry import spec
        from ingestion import tracing
        from ingestion.kafka import ensure_topics
        from ingestion.producer import EventProducer
        from vigil.wiring.clients import redis_client
        from vigil.wiring.feeds import ingestion
        from vigil.wiring.workers import agent

        self.settings = settings
        self.replica_id = replica_id
        self.beat_s = beat_s
        self.started_at = time.time()
        # whichever process starts first creates the topics (the API does too); a broker
        # that cannot be reached, or may not create one, stops the replica here, saying so
        ensure_topics(settings)
        tracing.configure(settings, f"agents:{replica_id}")  # VIGIL_OTEL_ENDPOINT
        self.client = redis_client(settings)
        self.producer = EventProducer.for_agents(settings)
        self.ingestion = ingestion(settings, producer=self.producer).start() if ingest else None
        self.part = part
        if part == "escalations":  # the agents with a stage; the others run theirs inline
            agents = [name for name in agents if spec(name).stage is not None]
        self.services = [agent(name, settings, self.producer, part).start() for name in agents]
        self._stop = threading.Event()
        #: set when a consumer thread died: the process drains and ends, to be restarted
        self.failed = threading.Event()
        #: each agent's screened events a second, measured between heartbeats (only the beat
        #: writes it: a health() call from elsewhere must not move the window)
        self._rates: dict[str, float] = {}
        self.metrics_server = None
        if settings.agents_metrics_port is not None:
            from vigil.runtime.prometheus import AgentCollector, MetricsServer

            collector = AgentCollector(lambda: self.services, lambda: dict(self._rates))
            self.metrics_server = MetricsServer(
                collector, settings.agents_metrics_host, settings.agents_metrics_port,
                health=self.alive,
            )  # fmt: skip
        self._beats = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beats.start()

    def alive(self) -> tuple[bool, dict[str, Any]]:
        """Whether every consumer of this replica lives (``/health``), and the dead ones."""
        dead = self.dead()
        return not dead and not self.failed.is_set(), {"replica": self.replica_id, "dead": dead}

    def health(self) -> dict[str, Any]:
        """What this replica is doing: its partitions, lag and counters, per agent."""
        agents: dict[str, Any] = {}
        for service in self.services:
            m = service.worker.metrics
            runner = service.input_runner  # None: this process runs the escalations only
            lags = {} if runner is None else runner.metrics.lag
            agents[service.name] = {
                "partitions": sorted(lags),
                "lag": {str(p): n for p, n in sorted(lags.items())},
                "screened": m.screened,
                "events_per_s": round(self._rates.get(service.name, 0.0), 1),
                "escalated": m.escalated,
                "approved": m.approved,
                "rejected": m.rejected,
                "expired": m.expired,
                "outcomes": dict(m.outcomes),
                "dead_lettered": sum(r.metrics.dead_lettered for r in service.runners),
                "alive": not service.dead,
                "dead": dict(service.dead),
                "retrying": service.retrying(),
                "escalations": service.escalations(),
                "not_applied": {f"{rule}:{why}": n for (rule, why), n in m.not_applied.items()},
            }
        return {
            "replica": self.replica_id,
            "part": self.part,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": self.started_at,
            "at": time.time(),
            "events_per_s": round(sum(self._rates.values()), 1),
            "metrics_url": None if self.metrics_server is None else self.metrics_server.url,
            "agents": agents,
            "ingestion": None if self.ingestion is None else {
                "alive": not self.ingestion.dead, "dead": dict(self.ingestion.dead),
                "retrying": self.ingestion.retrying()},
            "dead": self.dead(),
        }  # fmt: skip

    def dead(self) -> dict[str, str]:
        """Every consumer thread of this replica that died (thread name: why)."""
        out = {name: why for service in self.services for name, why in service.dead.items()}
        if self.ingestion is not None:
            out.update(self.ingestion.dead)
        return out

    def _screened(self) -> dict[str, int]:
        return {service.name: service.worker.metrics.screened for service in self.services}

    def _beat(self) -> None:
        key = heartbeat_key(self.settings, self.replica_id)
        then, before = time.monotonic(), self._screened()
        while not self._stop.wait(self.beat_s):
            now, screened = time.monotonic(), self._screened()
            self._rates = {name: (n - before[name]) / (now - then) for name, n in screened.items()}
            then, before = now, screened
            try:
                self.client.set(key, json.dumps(self.health()), ex=int(STALE_S))
            except redis.RedisError as exc:  # Redis restarting: the next beat retries
                log.warning("heartbeat of %s not written: %s", self.replica_id, exc)
            if self.dead() and not self.failed.is_set():
                log.critical("%s: consumers died (%s): the replica ends", self.replica_id,
                             "; ".join(f"{k}: {v}" for k, v in self.dead().items()))  # fmt: skip
                self.failed.set()

    def drain(self, timeout: float = 30.0) -> dict[str, Any]:
        """Finish the batches in hand, commit them, leave the groups; the last health."""
        self._stop.set()
        self._beats.join(timeout)
        for service in self.services:
            service.stop(timeout)
        if self.ingestion is not None:
            self.ingestion.stop(timeout)
        last = self.health()
        with contextlib.suppress(redis.RedisError):  # else it expires by itself
            self.client.delete(heartbeat_key(self.settings, self.replica_id))
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.producer.close()
        self.client.close()
        return last
