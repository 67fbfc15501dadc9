"""The README's recipe for adding an agent, run exactly as written."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agents import registry
from agents.registry import AgentSpec, select
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import Alert, Transaction
from ingestion.producer import EventProducer
from ingestion.simulator import Simulator
from tests.conftest import wait_for
from tests.ingestion.kafkautil import read_all
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent

README = Path(__file__).resolve().parents[2] / "README.md"


def recipe_blocks() -> list[str]:
    """The python blocks of the README's "Adding an agent": the agent, then its registry line."""
    text = README.read_text()
    section = text[text.index("## Adding an agent") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the README's 'Adding an agent' has the agent and its registry line"
    return blocks


def recipe(folder: Path) -> ModuleType:
    """The agent of the README's "Adding an agent", written to a file and imported."""
    path = folder / "big_spend_agent.py"
    path.write_text(recipe_blocks()[0])
    spec = importlib.util.spec_from_file_location("big_spend_agent", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def register(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's registry line, added to ``AGENTS`` as written (for this test only)."""
    line = recipe_blocks()[1].strip()
    spec = eval(line, {"AgentSpec": AgentSpec, "big_spend": module})  # noqa: S307 - our README
    assert isinstance(spec, AgentSpec)
    monkeypatch.setitem(registry.AGENTS, spec.name, spec)


def test_the_readme_recipe_builds_a_working_agent(
    settings: Settings, redis_client: tuple[Any, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    client, prefix = redis_client
    register(recipe(tmp_path), monkeypatch)
    assert select("all")[-1] == "big-spend"  # `vigil agents run` would run it too
    s = settings.model_copy(
        update={"redis_prefix": prefix.rstrip(":"), "checkpoint_prefix": prefix + "cp",
                "data_dir": tmp_path}
    )  # fmt: skip
    model = ScriptedChatModel(script=[])  # the recipe's agent never calls a model
    with EventProducer(s) as producer:
        service = agent(
            "big-spend", s, producer, client=client, embedder=EMBEDDER,
            gateway=ModelGateway([ModelEntry("scripted", model)]),
            checkpointer=RedisSaver(client, prefix=prefix + "cp"),
        ).start()  # fmt: skip
        try:
            assert service.name == "big-spend"
            sim = Simulator(seed=5, customers=10)
            small = sim.transaction().model_copy(update={"amount": Decimal("12.00")})
            big = sim.transaction().model_copy(update={"amount": Decimal("7200.00")})
            producer.publish([small, big, big])  # the big one twice: a re-delivery
            m = service.worker.metrics
            wait_for(lambda: m.screened == 3 and m.outcomes["notified"] == 1, 60, "the agent")
            time.sleep(0.5)
            records = read_all(s.kafka_bootstrap or "", s.topic(Stream.ALERTS), 2, timeout=3)
            [alert] = [Alert.model_validate_json(r.value) for r in records]
            assert alert.refs["transaction_id"] == big.transaction_id
            assert alert.title == "Large payment: 7200.00 " + big.currency
            assert m.escalated == 2  # both deliveries escalated; the thread ran once
            assert model.calls == []
        finally:
            service.stop()
    assert isinstance(big, Transaction)
