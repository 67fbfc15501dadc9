"""``vigil llm check``: load the configured model, stream a reply, time it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.cli.common import console, friendly, llm_app, load_settings
from vigil.settings import Settings

if TYPE_CHECKING:
    from graphs.llm import CallRecord


def run_llm_check(settings: Settings, console: Console, prompt: str) -> None:
    from vigil.wiring.models import build_gateway, parse_spec  # the model stack, when used

    chain = [parse_spec(settings.llm).name] + [parse_spec(f).name for f in settings.llm_fallbacks]
    console.print(
        f"model: [bold]{chain[0]}[/]" + (f"  fallbacks: {chain[1:]}" if chain[1:] else "")
    )
    started = time.perf_counter()
    gateway = build_gateway(settings)
    load_s = time.perf_counter() - started
    console.print(f"loaded in {load_s:.2f} s; asking: {prompt}")
    records: list[CallRecord] = []

    async def stream() -> str:
        parts = []
        async for chunk in gateway.astream(prompt, records):
            text = str(chunk.content)
            parts.append(text)
            console.print(text, end="", highlight=False, soft_wrap=True)
        console.print()
        return "".join(parts)

    reply = asyncio.run(stream())
    ok = [r for r in records if r.ok]
    rec = ok[-1] if ok else records[-1]
    tokens = rec.output_tokens or 0
    gen_s = rec.latency_s - (rec.first_token_s or 0)
    table = Table("measure", "value", title="vigil llm check")
    table.add_row("model answering", rec.model)
    table.add_row("load time", f"{load_s:.2f} s")
    table.add_row("time to first token", f"{rec.first_token_s or 0:.2f} s")
    table.add_row("tokens streamed", str(tokens))
    table.add_row("tokens/s", f"{tokens / gen_s:.1f}" if gen_s > 0 and tokens else "n/a")
    table.add_row("attempts", str(len(records)))
    console.print(table)
    if not reply.strip():
        console.print("[yellow]the model answered with an empty reply[/]")


@llm_app.command("check")
@friendly
def llm_check(
    prompt: Annotated[str, typer.Option(help="What to ask.")] = (
        "In one sentence, why would a bank pause a card after a suspicious payment?"
    ),
) -> None:
    """Load the configured model (VIGIL_LLM), stream a short reply, report the timings."""
    run_llm_check(load_settings(), console, prompt)
