"""One eval run: the suites, for each model, scored, summarized and judged by the gate."""

from __future__ import annotations

import asyncio
import fnmatch
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from evals.cases import ChatCase, EventCase, load_chat_cases, load_event_cases
from evals.chat import run_chat_case
from evals.env import EvalEnv
from evals.events import run_event_case
from evals.fraud import NAME as FRAUD
from evals.fraud import FraudEvalConfig, run_fraud_suite
from evals.gate import Thresholds, Verdict, failures, judge
from evals.metrics import SuiteSummary, summarize_chat, summarize_events
from evals.results import CaseResult
from evals.sample import sample_chat, sample_events, sample_stream
from evals.streams import GoldenStream, StreamResult, load_stream, replay_stream, summarize_stream

SuiteName = Literal["chat", "events", "streams", "fraud"]
SUITES: tuple[SuiteName, ...] = ("chat", "events", "streams", "fraud")
#: progress: (model, suite, case id) after each case
Progress = Callable[[str, str, str], None]


@dataclass
class EvalRun:
    run_id: str
    started_at: datetime
    models: list[str]
    suites: list[str]
    results: list[CaseResult] = field(default_factory=list)
    streams: list[StreamResult] = field(default_factory=list)
    summaries: list[SuiteSummary] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    finished_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return not failures(self.verdicts)

    def figures(self, model: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in self.summaries:
            if s.model == model:
                out.update(s.flat())
        return out


@dataclass(frozen=True)
class Selection:
    """Which cases: by suite, optionally by id pattern (``travel-*``), and optionally only
    a stratified sample of them (``evals.sample``: every category, decision and kind of
    check, every gated figure measured, in a fraction of the time)."""

    suites: Sequence[SuiteName] = SUITES
    pattern: str | None = None
    chat: Sequence[ChatCase] | None = None
    events: Sequence[EventCase] | None = None
    streams: Sequence[str] = ("golden",)
    sample: bool = False
    #: the fraud suite's simulation (the same with ``sample``: its figures are gated)
    fraud: FraudEvalConfig = field(default_factory=FraudEvalConfig)

    def pick(self, cases: Sequence[Any]) -> list[Any]:
        if self.pattern is None:
            return list(cases)
        return [c for c in cases if fnmatch.fnmatch(c.id, self.pattern)]

    def chat_cases(self) -> list[ChatCase]:
        cases: list[ChatCase] = self.pick(self.chat or load_chat_cases())
        return sample_chat(cases) if self.sample else cases

    def event_cases(self) -> list[EventCase]:
        cases: list[EventCase] = self.pick(self.events or load_event_cases())
        return sample_events(cases) if self.sample else cases

    def stream(self, name: str) -> GoldenStream:
        stream = load_stream(name)
        return sample_stream(stream) if self.sample else stream


def total_cases(selection: Selection) -> int:
    n = 0
    if "chat" in selection.suites:
        n += len(selection.chat_cases())
    if "events" in selection.suites:
        n += len(selection.event_cases())
    if "streams" in selection.suites and selection.pattern is None:
        n += len(selection.streams)
    if "fraud" in selection.suites and selection.pattern is None:
        n += 1
    return n


def run_evals(
    env: EvalEnv,
    models: Sequence[str],
    selection: Selection = Selection(),
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> EvalRun:
    run_id = run_id or uuid.uuid4().hex[:10]
    run = EvalRun(run_id, datetime.now(UTC), list(models), list(selection.suites))
    limits = thresholds or Thresholds.load()
    tick = progress or (lambda model, suite, case: None)
    chat = selection.chat_cases()
    events = selection.event_cases()
    for model in models:
        if "chat" in selection.suites and chat:
            got = asyncio.run(_chat(env, chat, model, tick))
            run.results += got
            run.summaries.append(summarize_chat(got, model))
        if "events" in selection.suites and events:
            got = []
            for case in events:
                got.append(run_event_case(env, case, model))
                tick(model, "events", case.id)
            run.results += got
            run.summaries.append(summarize_events(got, model))
        if "streams" in selection.suites and selection.pattern is None:
            for name in selection.streams:
                result = replay_stream(env, selection.stream(name), model)
                run.streams.append(result)
                run.summaries.append(summarize_stream(result))
                tick(model, "streams", name)
        run.verdicts += judge(run.figures(model), model, limits)
    if "fraud" in selection.suites and selection.pattern is None:
        # no language model in it: run once, whatever the models
        scratch = env.case_settings("fraud")
        try:
            run.summaries.append(run_fraud_suite(env.redis, scratch, selection.fraud))
        finally:
            env.clean(scratch)
        tick(FRAUD, "fraud", "simulation")
        run.verdicts += judge(run.figures(FRAUD), FRAUD, limits)
    run.finished_at = datetime.now(UTC)
    return run


async def _chat(
    env: EvalEnv, cases: Sequence[ChatCase], model: str, tick: Progress
) -> list[CaseResult]:
    out = []
    for case in cases:
        out.append(await run_chat_case(env, case, model))
        tick(model, "chat", case.id)
    return out
