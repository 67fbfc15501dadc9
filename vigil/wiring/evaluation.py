"""``vigil eval``: the golden cases and streams, on the embedded stack (or the configured
servers), for the offline model and the configured one; reports, baseline, gate.

An eval never touches live state: its topics carry the run's suffix, its consumer groups
and Redis keys the run's prefix (deleted afterwards), its data lake and knowledge base
live in the run's folder.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.compare import Change, compare, load_baseline, save_baseline
from evals.env import EvalEnv
from evals.gate import Thresholds, failures, is_real
from evals.report import write_reports
from evals.runner import EvalRun, Selection, run_evals, total_cases
from ingestion.kafka import drop_topics, ensure_topics
from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.ingest import KnowledgeIngestor
from ingestion.knowledge.lance import LanceRetriever
from ingestion.knowledge.types import Embedder
from ingestion.producer import EventProducer
from ingestion.seed import seed_documents
from vigil.runtime.stack import Stack
from vigil.settings import Settings, Stream
from vigil.wiring.clients import tool_context
from vigil.wiring.models import build_gateway


def default_models(settings: Settings) -> list[str]:
    """The offline model always; the configured one too when it is another."""
    return ["local"] if settings.llm == "local" else ["local", settings.llm]


def baseline_path() -> Path:
    return Path(str(resources.files("evals") / "baseline.json"))


def eval_settings(settings: Settings, run: str, folder: Path) -> Settings:
    """Topics, groups and keys of this run only; its lake in the run's folder."""
    topics = {f"topic_{s.name.lower()}": f"{settings.topic(s)}.eval-{run}" for s in Stream}
    return settings.model_copy(
        update={
            **topics,
            "kafka_group_prefix": f"{settings.kafka_group_prefix}.eval-{run}",
            "redis_prefix": f"{settings.redis_prefix}-eval:{run}",
            "checkpoint_prefix": f"{settings.redis_prefix}-eval:{run}:cp",
            "data_dir": folder / "data",
        }
    )


@contextmanager
def eval_env(
    settings: Settings,
    models: Sequence[str],
    out_dir: Path,
    *,
    gateways: dict[str, Any] | None = None,
    embedder: Embedder | None = None,
    judge: str | None = None,
) -> Iterator[EvalEnv]:
    """An EvalEnv on ``settings``' servers (which must be reachable: see ``Stack``)."""
    run = uuid.uuid4().hex[:8]
    s = eval_settings(settings, run, out_dir)
    ensure_topics(s)
    client = redis.Redis.from_url(s.redis_url or "")
    emb = embedder or MiniLMEmbedder(s.embedder_path)
    vectors = Path(tempfile.mkdtemp(prefix="vigil-eval-kb-"))
    knowledge = LanceRetriever(vectors, dim=emb.dim)
    ingestor = KnowledgeIngestor(knowledge, emb, client, prefix=f"{s.redis_prefix}:kb")
    for doc in seed_documents():
        ingestor.apply(doc)
    producer = EventProducer(s)
    chains = dict(gateways or {})

    def alone(model: str) -> Any:  # the model measured is the model answering: no fallbacks
        return build_gateway(settings.model_copy(update={"llm": model, "llm_fallbacks": []}))

    for model in models:
        if model not in chains:
            chains[model] = alone(model)
    judge_gateway = None if judge is None else (chains.get(judge) or alone(judge))
    env = EvalEnv(
        settings=s,
        redis=client,
        publisher=producer,
        embedder=emb,
        retriever=knowledge,
        tools=lambda cs, pub, audience: tool_context(
            cs, pub, client=client, embedder=emb, audience=audience, knowledge=knowledge
        ),
        gateways=chains,
        out_dir=out_dir,
        judge=judge_gateway,
    )
    try:
        yield env
    finally:
        env.clean(s)
        producer.close()
        client.close()
        shutil.rmtree(vectors, ignore_errors=True)
        drop_topics(s, s.all_topics())  # on a shared cluster an eval leaves nothing behind


@dataclass
class EvalOutcome:
    run: EvalRun
    paths: dict[str, Path]
    changes: list[Change]


def run_eval(
    settings: Settings,
    console: Console,
    *,
    suites: Sequence[str],
    models: Sequence[str] | None,
    out_dir: Path | None,
    pattern: str | None = None,
    baseline: Path | None = None,
    save_as_baseline: bool = False,
    judge: str | None = None,
) -> EvalOutcome:
    chosen = list(models or default_models(settings))
    if judge is None:
        judge = next((m for m in chosen if is_real(m)), None)
    selection = Selection(suites=tuple(suites), pattern=pattern)  # type: ignore[arg-type]
    run_id = uuid.uuid4().hex[:10]
    with Stack(settings, create_topics=False) as eff:
        folder = out_dir or eff.data_dir / "evals" / run_id
        console.print(
            f"eval: models {', '.join(chosen)}; suites {', '.join(suites)}; "
            f"judge {judge or 'none (offline)'}; reports in {folder}"
        )
        with eval_env(eff, chosen, folder, judge=judge) as env, _progress(console) as bar:
            fraud = int("fraud" in suites and pattern is None)  # once, whatever the models
            per_model = total_cases(selection) - fraud
            task = bar.add_task("cases", total=per_model * len(chosen) + fraud)

            def tick(model: str, suite: str, case: str) -> None:
                bar.update(task, advance=1, description=f"{model} {suite} {case}")

            run = run_evals(env, chosen, selection, Thresholds.load(), tick, run_id=run_id)
    base = baseline or baseline_path()
    changes = compare(run.figures(chosen[0]), load_baseline(base)) if base.is_file() else []
    paths = write_reports(run, folder, changes)
    if save_as_baseline:
        save_baseline(run, chosen[0], base)
    show(console, run, changes, paths, saved=base if save_as_baseline else None)
    return EvalOutcome(run, paths, changes)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def show(
    console: Console,
    run: EvalRun,
    changes: list[Change],
    paths: dict[str, Path],
    saved: Path | None = None,
) -> None:
    for s in run.summaries:
        if s.suite == "fraud":
            table = Table(title=f"fraud: {s.cases:,} payments of the test days, "
                                f"{int(s.metrics['frauds'])} fraudulent")  # fmt: skip
            table.add_column("scenario")
            table.add_column("payments", justify="right")
            table.add_column("caught", justify="right")
            for c, f in sorted(s.categories.items()):
                table.add_row(c, f"{f['payments']:.0f}", f"{f['recall']:.0%}")
            console.print(table)
    for suite in ("chat", "events", "streams"):
        rows = [s for s in run.summaries if s.suite == suite]
        if not rows:
            continue
        table = Table(title=f"{suite}: per category" if suite != "streams" else "streams")
        table.add_column("category")
        for s in rows:
            table.add_column(f"{s.model} pass")
            table.add_column(f"{s.model} all checks")
        cats = sorted({c for s in rows for c in s.categories}) or ["(all)"]
        for c in cats:
            cells = []
            for s in rows:
                f = s.categories.get(c) or {
                    "pass_rate": s.metrics.get("pass_rate", 0.0),
                    "pass_rate_all": s.metrics.get("pass_rate", 0.0),
                }
                cells += [f"{f['pass_rate']:.0%}", f"{f['pass_rate_all']:.0%}"]
            table.add_row(c, *cells)
        console.print(table)
    for v in run.verdicts:
        color = "green" if v.passed else ("red" if v.gated else "yellow")
        console.print(f"[{color}]{v.line}[/]", highlight=False)
    if changes:
        worse = [c for c in changes if c.verdict == "worse"]
        better = [c for c in changes if c.verdict == "better"]
        console.print(f"against the baseline: {len(better)} better, {len(worse)} worse")
        for ch in [*worse, *better]:
            color = "red" if ch.verdict == "worse" else "green"
            console.print(
                f"  [{color}]{ch.verdict:6}[/] {ch.metric}: {ch.before:.4g} -> {ch.after:.4g}",
                highlight=False,
            )
    if saved is not None:
        console.print(f"baseline saved to {saved}")
    gate = "PASS" if not failures(run.verdicts) else "FAIL"
    console.print(
        f"gate: [bold]{gate}[/]; reports: {paths['markdown']}, {paths['html']}, {paths['json']}"
    )
