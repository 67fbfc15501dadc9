"""HTTP clients for model SDKs that stay right when more than one event loop uses them.

An async HTTP client pools its connections, and a pooled connection belongs to the event
loop that opened it. Vigil calls models from several loops in one process: a sync graph
node runs each call in a loop of its own (``graphs.llm.gateway._run``), the API serves chat
on uvicorn's loop, the evals run each model's cases in one. langchain-openai shares one
client per base URL and timeout across all of them, so the second loop to call a server
that keeps connections alive picks up a connection of a closed loop and fails with
"Event loop is closed" (measured against llama.cpp's OpenAI-compatible server: the real
model's chat stream failed that way after the judge's call). ``per_loop_async_client``
gives each running loop a client of its own.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any


def per_loop_async_client(**client_kwargs: Any) -> Any:
    """An ``openai.DefaultAsyncHttpxClient`` that sends each request through a client of
    the running loop (made on first use, dropped with its loop)."""
    import openai  # the optional provider extra: imported only when such a model is built

    class PerLoopAsyncClient(openai.DefaultAsyncHttpxClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._kwargs = kwargs
            self._lock = threading.Lock()
            self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
                weakref.WeakKeyDictionary()
            )

        def for_running_loop(self) -> Any:
            loop = asyncio.get_running_loop()
            with self._lock:
                client = self._by_loop.get(loop)
                if client is None:
                    client = openai.DefaultAsyncHttpxClient(**self._kwargs)
                    self._by_loop[loop] = client
                return client

        async def send(self, request: Any, **kwargs: Any) -> Any:
            return await self.for_running_loop().send(request, **kwargs)

        async def aclose(self) -> None:
            with self._lock:
                client = self._by_loop.pop(asyncio.get_running_loop(), None)
            if client is not None:  # this loop's connections; other loops' go with them
                await client.aclose()
            await super().aclose()

    return PerLoopAsyncClient(**client_kwargs)
