"""Typed answers from any model, or a typed failure the caller must handle.

Native structured output where the provider has it; otherwise JSON constrained by the
schema (llama.cpp's ``response_format``) or asked for in the prompt. The answer is
validated against the pydantic model; an invalid one is sent back once with the
validation error; after that the caller gets ``Structured(value=None, error=...)`` and
decides by deterministic policy, saying so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ValidationError

from graphs.llm.gateway import CallRecord, ModelCallError, ModelEntry, ModelGateway, _run

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass
class Structured(Generic[T]):
    """The outcome of asking for a ``T``: the value, or why there is none."""

    value: T | None
    error: str | None = None
    attempts: int = 0
    calls: list[CallRecord] = field(default_factory=list)
    #: no answer because no model could be reached (refused, reset, 429, 5xx): an outage,
    #: not a bad answer, and not a slow one (a timeout already waited)
    unavailable: bool = False

    @property
    def ok(self) -> bool:
        return self.value is not None


def _instructions(schema: type[BaseModel]) -> SystemMessage:
    return SystemMessage(
        "Answer with one JSON object only, no prose, matching this JSON schema:\n"
        + json.dumps(schema.model_json_schema())
    )


def _runnable(entry: ModelEntry, schema: type[BaseModel]) -> Runnable[Any, Any]:
    if entry.structured == "native":
        return entry.model.with_structured_output(schema, include_raw=True)
    if entry.structured == "json_schema":
        return entry.model.bind(
            response_format={"type": "json_object", "schema": schema.model_json_schema()}
        )
    return entry.model


def _text(message: Any) -> str:
    if isinstance(message, AIMessage):
        return message.text if isinstance(message.text, str) else str(message.content)
    return str(message)


def _parse(out: Any, schema: type[T]) -> tuple[T, str]:
    """(value, raw text) or raise ValueError / ValidationError."""
    if isinstance(out, dict) and "raw" in out:  # native, include_raw=True
        raw_text = _text(out.get("raw")) or json.dumps(_tool_args(out.get("raw")))
        if out.get("parsing_error") is not None:
            raise ValueError(str(out["parsing_error"]))
        parsed = out.get("parsed")
        if isinstance(parsed, schema):
            return parsed, raw_text
        if parsed is None:
            raise ValueError("the model did not return the structured answer")
        return schema.model_validate(parsed), raw_text
    text = _text(out)
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    return schema.model_validate_json(body), text


def _tool_args(message: Any) -> Any:
    calls = getattr(message, "tool_calls", None) or []
    return calls[0]["args"] if calls else {}


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    return str(exc)


async def astructured(
    gateway: ModelGateway,
    schema: type[T],
    prompt: str | list[BaseMessage],
    *,
    retries: int = 1,
) -> Structured[T]:
    """Ask for a ``schema`` instance; never raises for a bad or missing answer."""
    messages: list[BaseMessage] = [HumanMessage(prompt)] if isinstance(prompt, str) else prompt
    calls: list[CallRecord] = []
    error = "no attempt"
    # models without native structured output must be told the schema in the prompt
    describe = any(e.structured != "native" for e in gateway.entries)
    for attempt in range(1, retries + 2):
        prompt_for = [_instructions(schema), *messages] if describe else messages
        try:
            out, records = await gateway.acall(lambda e: _runnable(e, schema), prompt_for)
        except ModelCallError as exc:
            calls += exc.records
            down = bool(exc.records) and all(r.outage for r in exc.records)
            return Structured(None, f"no model answered: {exc}", attempt, calls, unavailable=down)
        calls += records
        try:
            value, _raw = _parse(out, schema)
            return Structured(value, None, attempt, calls)
        except (ValidationError, ValueError) as exc:
            error = _short(exc)
            answer = _text(out.get("raw") if isinstance(out, dict) else out)
            messages = [
                *messages,
                AIMessage(answer or "(no answer)"),
                HumanMessage(
                    f"That answer was not valid: {error}. Reply again with only a JSON "
                    "object that matches the schema."
                ),
            ]
    return Structured(
        None, f"invalid answer after {retries + 1} attempts: {error}", retries + 1, calls
    )


def structured(
    gateway: ModelGateway, schema: type[T], prompt: str | list[BaseMessage], *, retries: int = 1
) -> Structured[T]:
    result: Structured[T] = _run(astructured(gateway, schema, prompt, retries=retries))
    return result
