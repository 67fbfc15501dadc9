"""compose.yaml cannot run here (no Docker engine), so its shape is checked instead."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT
from vigil.settings import Settings


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_services_of_the_production_stack_are_there() -> None:
    services = load()["services"]
    assert set(services) == {"kafka", "redis", "weaviate", "api", "agents", "archive"}
    assert services["archive"]["command"] == ["lake", "archive", "--follow"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["redis"]["image"].startswith("redis:8")


def test_every_vigil_variable_is_a_real_setting() -> None:
    fields = {f"VIGIL_{name.upper()}" for name in Settings.model_fields}
    for name in ("api", "agents", "archive"):
        env = load()["services"][name]["environment"]
        unknown = {k for k in env if k.startswith("VIGIL_")} - fields
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        assert env["VIGIL_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["VIGIL_REDIS_URL"].startswith("redis://redis:6379")


def test_health_volumes_and_loopback_ports() -> None:
    data = load()
    services = data["services"]
    for name in ("kafka", "redis", "weaviate", "api"):
        assert "healthcheck" in services[name], name
    for name in ("api", "agents", "archive"):
        for dep, cond in services[name]["depends_on"].items():
            assert cond == {"condition": "service_healthy"}, (name, dep)
    declared = set(data["volumes"])
    for svc in services.values():
        for mount in svc.get("volumes", []):
            assert mount.split(":")[0] in declared, mount
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
