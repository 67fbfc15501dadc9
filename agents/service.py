"""An agent's consumers (its input, its escalation stage, side inputs, approval answers)
and its deadline sweeper, run as threads of one process: all of them, or one part.

An agent with an escalation stage splits in two parts that may run in processes of their
own: its events (the input and the side inputs: screening) and its escalations (the
stage, the approval answers and the deadline sweeper: every graph run). Apart, a graph's
CPU never holds screening's interpreter lock: in one process, the stage's graphs
finishing together held screening's batches up to 100 ms.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.core import AgentWorker
from agents.errors import AgentError
from ingestion.contracts import ApprovalResponse
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner
from ingestion.threads import start_guarded
from vigil.settings import Stream

log = logging.getLogger(__name__)

#: which of an agent's consumers a process runs (an agent without a stage has one part)
Part = Literal["all", "events", "escalations"]


def freeze_heap() -> None:
    """What start-up loaded (torch, the embedder, LangGraph) moves out of the collector's
    way: a full collection walking it stalled screening 0.3-0.9 s."""
    gc.collect()
    gc.freeze()


@dataclass
class AgentService:
    """An agent's consumers (input, escalation stage, side inputs, approval answers) and
    its deadline sweeper."""

    worker: AgentWorker[Any, Any]
    runners: list[ConsumerRunner[Any]]
    sweep_every_s: float = 1.0
    #: this process runs the agent's graphs (its stage, approval answers and sweeper)
    graphs: bool = True
    #: this process screens the agent's input (loads the risk model before it starts)
    screens: bool = True
    threads: list[threading.Thread] = field(default_factory=list)
    #: consumers that died (thread name: why); the process reports it and ends
    dead: dict[str, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(
        cls, worker: AgentWorker[Any, Any], producer: EventProducer, part: Part = "all"
    ) -> AgentService:
        """The consumers of ``part``: ``events`` (input, side inputs), ``escalations``
        (stage, approval answers, sweeper) or ``all``. An agent without a stage runs its
        graphs inline: its events are all of it, and it has no escalations part."""
        s, b = worker.settings, worker.binding
        if part == "escalations" and b.stage is None:
            raise AgentError(f"agent {worker.name!r} has no escalation stage to run apart")
        events = part != "escalations"
        graphs = part != "events" or b.stage is None
        runners: list[ConsumerRunner[Any]] = []
        if events:
            runners.append(
                ConsumerRunner(
                    s, topic=s.topic(b.input), model=b.model, handler=worker.handle,
                    group=s.group_id(b.name), producer=producer,
                )
            )  # fmt: skip
        if b.stage is not None and graphs:
            runners.append(
                ConsumerRunner(
                    s, topic=s.topic(b.stage.stream), model=b.stage.model,
                    handler=worker.handle_escalations, group=s.group_id(f"{b.name}-escalations"),
                    producer=producer, batch_size=s.escalation_concurrency,
                )
            )  # fmt: skip
        for side in b.side_inputs if events else ():
            runners.append(
                ConsumerRunner(
                    s, topic=s.topic(side.stream), model=side.model, handler=side.handler,
                    group=s.group_id(f"{b.name}-{side.stream.value}"), producer=producer,
                )
            )  # fmt: skip
        if graphs and (b.approval_prefix is not None or b.claims_unknown_approvals):
            runners.append(
                ConsumerRunner(
                    s, topic=s.topic(Stream.APPROVAL_RESPONSES), model=ApprovalResponse,
                    handler=worker.handle_responses, group=s.group_id(f"{b.name}-approvals"),
                    producer=producer,
                    # every agent reads the answers; the one that takes unknown ids
                    # dead-letters the malformed ones, once
                    dead_letters_invalid=b.claims_unknown_approvals,
                )
            )  # fmt: skip
        return cls(worker, runners, graphs=graphs, screens=events)

    @property
    def name(self) -> str:
        return self.worker.name

    def _runner(self, topic: str) -> ConsumerRunner[Any] | None:
        return next((r for r in self.runners if r.topic == topic), None)

    @property
    def input_runner(self) -> ConsumerRunner[Any] | None:
        """The consumer of the agent's input, if this process runs it."""
        return self._runner(self.worker.settings.topic(self.worker.binding.input))

    @property
    def stage_runner(self) -> ConsumerRunner[Any] | None:
        """The consumer of the agent's escalation stage, if this process runs it."""
        stage = self.worker.binding.stage
        return None if stage is None else self._runner(self.worker.settings.topic(stage.stream))

    def escalations(self) -> dict[str, Any] | None:
        """This replica's part of the escalation backlog: records not yet committed on the
        partitions it owns, the age of the oldest in hand, and the graphs running now."""
        runner, stage = self.stage_runner, self.worker.stage
        if runner is None or stage is None:
            return None
        m = runner.metrics
        return {
            "topic": runner.topic,
            "partitions": sorted(m.lag),
            "backlog": m.total_lag,
            "oldest_s": round(
                max(m.oldest_age_s(time.time() * 1000), stage.longest_running_s()), 3
            ),
            "running": len(stage.running),
            "done": m.processed,
            "dead_lettered": m.dead_lettered,
        }

    def _sweeper(self) -> None:
        while not self._stop.wait(self.sweep_every_s):
            try:
                self.worker.sweep()
            except Exception:  # a failed sweep is retried on the next tick
                log.exception("%s: deadline sweep failed; retrying", self.name)

    def retrying(self) -> dict[str, str]:
        """Consumers re-reading a batch that failed outside the handler (topic: why)."""
        return {r.topic: r.crashed for r in self.runners if r.crashed}

    def start(self) -> AgentService:
        warm = self.worker.binding.warm if self.graphs else None  # the graphs' models
        started = time.perf_counter()
        ready = self.worker.binding.ready if self.screens else None
        if ready is not None:
            ready()
        if warm is not None:
            warm()
        freeze_heap()
        log.info("%s: warmed up in %.1f s", self.name, time.perf_counter() - started)
        targets: list[tuple[Callable[[], object], str]] = [
            (r.run, f"{self.name}-{r.topic}") for r in self.runners
        ]
        if self.graphs and self.worker.binding.approval_prefix is not None:
            targets.append((self._sweeper, f"{self.name}-deadlines"))
        for target, name in targets:
            self.threads.append(start_guarded(target, name, self.dead))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for r in self.runners:
            r.stop()
        for t in self.threads:
            t.join(timeout)
        for r in self.runners:
            r.close()
        if self.worker.stage is not None:
            self.worker.stage.close()
