"""An eval environment on the test servers (Tansu, Redis), and a scripted model that
answers every question a graph asks in the shape that question needs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from evals.env import EvalEnv
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings
from vigil.wiring.evaluation import eval_env

DRAFTS = {
    "Assessment": {
        "risk": 0.5,
        "action": "allow",
        "rationale": "Scripted judgement.",
        "evidence": [],
    },
    "WorkOrderDraft": {
        "priority": "high",
        "action": "Replace the drive-end bearing and check alignment.",
        "parts": ["BK-6309"],
        "window_hours": 8,
        "duration_hours": 4,
        "stop_asset": False,
        "rationale": "Vibration and temperature rise together.",
    },
    "AlertDraft": {
        "title": "Storm warning",
        "body": "A severe storm is expected. Carry another way to pay. We are here to help.",
    },
}


def scripted_answer(messages: list[BaseMessage]) -> str:
    """JSON for a structured question (by its schema's title), else a chat answer that
    cites the first passage it was given."""
    system = str(messages[0].content)
    for title, draft in DRAFTS.items():
        if f'"title": "{title}"' in system:
            return json.dumps(draft)
    found = re.search(r"^\[(\d+)\] (.+)$", system, re.MULTILINE)
    cite = f" as [{found.group(1)}] {found.group(2)} explains" if found else ""
    return f"Thank you for asking. Here is what applies to you{cite}."


def scripted_gateway(n: int = 2000) -> ModelGateway:
    model = ScriptedChatModel(script=[scripted_answer] * n)
    return ModelGateway([ModelEntry("scripted", model, structured="json")], backoff_s=0.01)


@pytest.fixture
def env_for(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """``env_for(models, gateways=..., max_tokens=...)``: an EvalEnv on the test servers
    (``max_tokens``: the models' answers cut there)."""
    opened: list[Any] = []

    def make(models: list[str], max_tokens: int | None = None, **kw: Any) -> EvalEnv:
        s = settings if max_tokens is None else settings.model_copy(
            update={"llm_max_tokens": max_tokens})  # fmt: skip
        cm = eval_env(s, models, tmp_path / "eval", embedder=EMBEDDER, **kw)
        opened.append(cm)
        env: EvalEnv = cm.__enter__()
        return env

    yield make
    for cm in reversed(opened):
        cm.__exit__(None, None, None)
