"""The embedded default's first run with behaviour features on: no model promoted, one is
trained on the simulated history and promoted, once; a new Redis gets it published again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agents.fraud.model_store import ModelWatch
from tests.conftest import base_settings
from vigil.wiring import fraud_models


def test_a_first_run_trains_and_promotes_a_model_once(
    redis_client: tuple[Any, str],
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, prefix = redis_client
    monkeypatch.setitem(fraud_models.BOOTSTRAP, "shoppers", 80)
    monkeypatch.setitem(fraud_models.BOOTSTRAP, "days", 14)
    console = Console(record=True, width=200)
    off = base_settings(redis_prefix=prefix.rstrip(":"), data_dir=tmp_path, redis_url=redis_url)
    assert fraud_models.ensure_model(off, console) is None  # features off: no model
    on = off.model_copy(update={"fraud_features": True})
    assert fraud_models.ensure_model(on, console) == "sim-bootstrap"
    assert "training one on a simulated month" in console.export_text()
    watch = ModelWatch(client, on.redis_prefix)
    model = watch.current()
    assert model is not None
    assert model.version == "sim-bootstrap"
    assert fraud_models.ensure_model(on, Console(record=True)) == "sim-bootstrap"  # no retrain
    # the same data folder, a Redis that has never seen it: published again, not retrained
    other = on.model_copy(update={"redis_prefix": f"{on.redis_prefix}x"})
    quiet = Console(record=True)
    assert fraud_models.ensure_model(other, quiet) == "sim-bootstrap"
    assert "training" not in quiet.export_text()
    assert ModelWatch(client, other.redis_prefix).current() is not None
