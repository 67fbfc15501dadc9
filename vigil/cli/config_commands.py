"""``vigil config`` and ``vigil token``: what is configured, and signed API tokens."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import app, console, friendly, load_settings
from vigil.errors import VigilError


@app.command()
@friendly
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings (environment, .env, defaults), secrets masked."""
    settings = load_settings()
    values = settings.public_dump()
    if as_json:
        console.print_json(json.dumps(values, default=str))
        return
    table = Table("setting", "environment variable", "value", title="Vigil settings")
    for name, value in values.items():
        shown = "(unset: embedded)" if value is None else json.dumps(value, default=str)
        table.add_row(name, f"VIGIL_{name.upper()}", shown.strip('"'))
    console.print(table)


@app.command()
@friendly
def token(
    role: Annotated[str, typer.Option(help="customer, analyst or admin.")],
    subject: Annotated[str, typer.Option(help="The customer id, or the analyst's name.")],
    ttl: Annotated[
        int | None, typer.Option(help="Seconds (default VIGIL_API_TOKEN_TTL_S).")
    ] = None,
) -> None:
    """Mint a signed API token (needs VIGIL_API_TOKEN_SECRET)."""
    from api.auth import Authenticator, parse_grant

    settings = load_settings()
    if settings.api_token_secret is None:
        raise VigilError("set VIGIL_API_TOKEN_SECRET to mint tokens (the API checks with it)")
    try:
        who = parse_grant(f"{role}:{subject}", where="--role/--subject")
    except ValueError as exc:
        raise VigilError(str(exc)) from exc
    auth = Authenticator({}, settings.api_token_secret.get_secret_value(),
                         token_ttl_s=settings.api_token_ttl_s, issuer=settings.api_token_issuer,
                         audience=settings.api_token_audience)  # fmt: skip
    print(auth.mint(who, ttl))
