"""A scripted chat model: the one allowed stand-in for a model, in tests and evals.

Each call takes the next item of the script:

* ``str`` -> an AI message with that text (streamed word by word);
* ``AIMessage`` -> returned as is, tool calls included (streamed as tool-call chunks);
* ``Exception`` instance -> raised (to test retries and fallbacks);
* ``Hang(seconds)`` -> waits that long, then takes the next item (to test timeouts);
* a callable ``f(messages) -> str | AIMessage`` -> computed from the prompt.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


@dataclass(frozen=True)
class Hang:
    seconds: float


class ScriptExhaustedError(AssertionError):
    """The code under test called the model more often than the script foresaw."""


class ScriptedChatModel(GenericFakeChatModel):
    """Replies from ``script`` in order; records every prompt it was given in ``calls``."""

    # kept out of the repr, which langchain computes for every model's first call (its
    # serialized form): a bench's script of a million replies took 0.7 s of GIL to print
    script: list[Any] = Field(default_factory=list, repr=False)
    calls: list[list[BaseMessage]] = Field(default_factory=list, repr=False)
    bound_tools: list[dict[str, Any]] = Field(default_factory=list)
    usage: bool = True  # attach usage_metadata (token counts) like real providers do
    token_delay_s: float = 0.0  # pause between streamed chunks, like a real model's pace
    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    position: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-fake-chat-model"

    def _next(self, messages: list[BaseMessage]) -> Any:
        self.calls.append(list(messages))
        if self.position >= len(self.script):
            raise ScriptExhaustedError(
                f"the model was called {self.position + 1} times; the script has "
                f"{len(self.script)} replies"
            )
        item = self.script[self.position]
        self.position += 1
        return item

    def _message(self, item: Any, messages: list[BaseMessage]) -> AIMessage:
        if isinstance(item, BaseException):
            raise item
        if callable(item) and not isinstance(item, AIMessage):
            item = item(messages)
        msg = AIMessage(content=item) if isinstance(item, str) else item
        if not isinstance(msg, AIMessage):
            raise TypeError(f"script items must make AI messages, got {type(msg).__name__}")
        if self.usage and msg.usage_metadata is None:
            words_in = sum(len(str(m.content).split()) for m in messages)
            words_out = len(str(msg.content).split()) or 1
            msg = msg.model_copy(
                update={
                    "usage_metadata": {
                        "input_tokens": words_in,
                        "output_tokens": words_out,
                        "total_tokens": words_in + words_out,
                    }
                }
            )
        return msg

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        item = self._next(messages)
        while isinstance(item, Hang):
            time.sleep(item.seconds)
            item = self._next(messages)
        return ChatResult(generations=[ChatGeneration(message=self._message(item, messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        item = self._next(messages)
        while isinstance(item, Hang):
            await asyncio.sleep(item.seconds)
            item = self._next(messages)
        return ChatResult(generations=[ChatGeneration(message=self._message(item, messages))])

    def _chunks(self, msg: AIMessage) -> Iterator[ChatGenerationChunk]:
        text = str(msg.content)
        for token in (t for t in re.split(r"(\s)", text) if t):
            yield ChatGenerationChunk(message=AIMessageChunk(content=token, id=msg.id))
        for i, call in enumerate(msg.tool_calls):
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    id=msg.id,
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": json.dumps(call["args"]),
                            "id": call.get("id"),
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                    ],
                )
            )
        if msg.usage_metadata:
            yield ChatGenerationChunk(
                message=AIMessageChunk(content="", id=msg.id, usage_metadata=msg.usage_metadata)
            )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        assert isinstance(msg, AIMessage)
        for chunk in self._chunks(msg):
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        result = await self._agenerate(messages, stop, run_manager, **kwargs)
        msg = result.generations[0].message
        assert isinstance(msg, AIMessage)
        for chunk in self._chunks(msg):
            if run_manager:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk
            await asyncio.sleep(self.token_delay_s)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Records the tools (as the model would see them); replies still come from the script."""
        self.bound_tools = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=self.bound_tools, tool_choice=tool_choice, **kwargs)
