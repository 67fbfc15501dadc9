"""``vigil fraud ...``: the fraud agent's risk models."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from vigil.cli.common import app, console, friendly, load_settings
from vigil.errors import VigilError

fraud_app = typer.Typer(help="The fraud agent's risk models: train, list, promote.")
app.add_typer(fraud_app, name="fraud")
lake_app = typer.Typer(help="The data lake: decisions and labels kept as Parquet.")
app.add_typer(lake_app, name="lake")


@fraud_app.command("train")
@friendly
def fraud_train(
    version: Annotated[str, typer.Option(help="The new model's version (a-z 0-9 . _ -).")],
    seed: Annotated[int, typer.Option(help="The simulated history's seed.")] = 11,
    shoppers: Annotated[int, typer.Option(min=20, max=20000, help="Simulated customers.")] = 500,
    days: Annotated[int, typer.Option(min=11, max=120, help="Simulated days.")] = 30,
    promote: Annotated[
        bool, typer.Option(help="Promote it if it beats the current model on its held-out days.")
    ] = False,
    from_lake: Annotated[
        bool,
        typer.Option(
            "--from-lake",
            help="Train on this deployment's history: the screening decisions and labels "
            "`vigil lake archive` kept (the simulation options do not apply).",
        ),
    ] = False,
) -> None:
    """Train a risk model on a labelled history (simulated, or the lake's), the last days
    held out."""
    from vigil.wiring.fraud_models import train_lake, train_simulated

    if from_lake:
        train_lake(load_settings(), console, version=version, promote=promote)
        return
    train_simulated(
        load_settings(),
        console,
        version=version,
        seed=seed,
        shoppers=shoppers,
        days=days,
        promote=promote,
    )


@fraud_app.command("promote")
@friendly
def fraud_promote(
    version: str,
    force: Annotated[
        bool, typer.Option(help="Promote even if it does not beat the current.")
    ] = False,
) -> None:
    """Make ``version`` the model the agents score with (they load it without a restart)."""
    from vigil.wiring.fraud_models import promote

    promote(load_settings(), console, version, force)


@fraud_app.command("models")
@friendly
def fraud_models() -> None:
    """The trained models, their held-out figures, and which one is promoted."""
    from vigil.wiring.fraud_models import list_models

    list_models(load_settings(), console)


@lake_app.command("archive")
@friendly
def lake_archive(
    follow: Annotated[
        bool, typer.Option(help="Keep archiving until Ctrl-C (else: until caught up).")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(min=1, max=86400, help="Seconds to catch up in (without --follow)."),
    ] = 600.0,
) -> None:
    """Keep the screening decisions and fraud labels published so far in the lake (the
    history `vigil fraud train --from-lake` learns from)."""
    if not math.isfinite(timeout):  # NaN passes any range check
        raise typer.BadParameter(f"{timeout} is not a number of seconds", param_hint="--timeout")
    from agents.archive import LakeArchive
    from tools.lake import ParquetLake
    from vigil.cli.common import stop_on_signals
    from vigil.runtime.stack import Stack, discover

    with Stack(discover(load_settings())) as eff:
        archive = LakeArchive(eff, ParquetLake(eff.lake_path, eff.lake_hash_key.get_secret_value()))
        try:
            if follow:
                with stop_on_signals() as stop:
                    archive.start()
                    console.print(f"archiving {', '.join(r.topic for r in archive.runners)} "
                                  f"into {eff.lake_path}; Ctrl-C stops")  # fmt: skip
                    while not stop.wait(0.5) and archive.alive():
                        pass
                    archive.stop()
                    archive.join()
                if archive.failed:
                    raise VigilError(f"the archive's consumer of {archive.failed} died")
            else:
                archive.drain(timeout)
        finally:
            archive.close()
        a = archive.archived
        console.print(f"archived {a.screenings:,} screening decisions and {a.labels:,} labels "
                      f"into {eff.lake_path} ({a.files:,} files; {a.skipped_decisions:,} other "
                      "decisions are the lake's decisions table already)")  # fmt: skip
