"""``vigil fraud ...``: the fraud agent's risk models."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.cli.common import app, console, friendly, load_settings

fraud_app = typer.Typer(help="The fraud agent's risk models: train, list, promote.")
app.add_typer(fraud_app, name="fraud")


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
) -> None:
    """Train a risk model on a labelled simulated history, the last days held out."""
    from vigil.wiring.fraud_models import train_simulated

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
