"""``vigil eval``: the golden cases and streams, scored and gated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.common import app, console, friendly, load_settings
from vigil.errors import VigilError


@app.command("eval")
@friendly
def eval_cmd(
    suite: Annotated[
        str,
        typer.Option(help="chat, events, streams, fraud or all (comma-separated for several)."),
    ] = "all",
    model: Annotated[
        list[str] | None,
        typer.Option(help="Model(s) to run (repeatable). Default: local, plus VIGIL_LLM."),
    ] = None,
    cases: Annotated[
        str | None, typer.Option(help="Only the cases whose id matches, e.g. 'travel-*'.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder of the reports.")] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline to compare with (default evals/baseline.json).")
    ] = None,
    save_baseline: Annotated[
        bool, typer.Option(help="Save this run's figures as the baseline.")
    ] = False,
    judge: Annotated[
        str | None, typer.Option(help="Model that judges chat answers (default: a real model).")
    ] = None,
    gate: Annotated[bool, typer.Option(help="Exit 1 when a gated figure fails.")] = True,
) -> None:
    """Run the golden cases and streams, write the reports, compare with the baseline.

    Offline by default, on the embedded stack: the local model, deterministic scorers.
    With VIGIL_LLM naming a real model (or --model), that model runs too, side by side,
    and judges the chat answers.
    """
    from vigil.wiring.evaluation import run_eval

    known = ["chat", "events", "streams", "fraud"]
    names = {"all": known}.get(suite, suite.split(","))
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise VigilError(f"unknown suite {', '.join(unknown)}: {', '.join(known)} or all")
    outcome = run_eval(
        load_settings(), console, suites=names, models=model, out_dir=out, pattern=cases,
        baseline=baseline, save_as_baseline=save_baseline, judge=judge,
    )  # fmt: skip
    if gate and not outcome.run.passed:
        raise typer.Exit(1)
