"""The offline default model, for real: SmolLM2-135M on llama.cpp. Form only, never content."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from pydantic import BaseModel

from graphs.llm import CallRecord, structured
from tests.conftest import base_settings, run_vigil
from vigil.settings import Settings
from vigil.wiring.models import build_gateway, local_model

pytestmark = pytest.mark.real_model


class Triage(BaseModel):
    risk: Literal["low", "medium", "high"]
    summary: str


def settings() -> Settings:
    return base_settings(llm="local", llm_max_tokens=96)


def test_the_local_model_is_loaded_once_and_shared() -> None:
    assert local_model(settings()) is local_model(settings())


def test_the_local_model_streams_real_tokens() -> None:
    gateway = build_gateway(settings())
    records: list[CallRecord] = []

    async def collect() -> list[str]:
        return [str(c.content) async for c in gateway.astream("Say hello to a customer.", records)]

    tokens = [t for t in asyncio.run(collect()) if t]
    assert len(tokens) >= 3
    [rec] = records
    assert rec.ok
    assert rec.model == "local"
    assert rec.first_token_s is not None
    assert rec.output_tokens is not None
    assert rec.output_tokens >= 3


def test_the_local_model_answers_in_the_schema() -> None:
    gateway = build_gateway(settings())
    result = structured(
        gateway,
        Triage,
        "A card was used at an ATM in London and 40 seconds later in a cafe in Paris. "
        "Give the risk and a one-sentence summary.",
    )
    assert result.ok, result.error
    assert isinstance(result.value, Triage)
    assert result.value.risk in ("low", "medium", "high")
    assert result.calls[-1].ok


def test_vigil_llm_check_reports_timings() -> None:
    res = run_vigil("llm", "check", "--prompt", "Name one colour.", timeout=300)
    assert res.returncode == 0, res.stderr
    for needle in ("model: local", "load time", "time to first token", "tokens/s"):
        assert needle in res.stdout
