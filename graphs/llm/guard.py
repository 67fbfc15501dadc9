"""A switch that makes every real model request fail: tests run with it on.

``install()`` wraps ``BaseChatModel``'s generation and streaming entry points once;
``blocked()`` turns the check on for a block of code. Scripted fakes always pass.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeMessagesListChatModel,
    GenericFakeChatModel,
    ParrotFakeChatModel,
)

FAKES: tuple[type[BaseChatModel], ...] = (
    GenericFakeChatModel,
    FakeListChatModel,
    FakeMessagesListChatModel,
    ParrotFakeChatModel,
)
_ENTRY_POINTS = ("_generate_with_cache", "_agenerate_with_cache", "stream", "astream")


class RealModelRequestBlockedError(RuntimeError):
    """A test (or an offline eval) tried to reach a real model."""


class _State:
    lock = threading.Lock()
    installed = False
    blocked = 0


def check(model: BaseChatModel) -> None:
    if _State.blocked and not isinstance(model, FAKES):
        raise RealModelRequestBlockedError(
            f"a real model request ({type(model).__name__}) was blocked: script a "
            "ScriptedChatModel instead, or mark the test @pytest.mark.real_model"
        )


def _guarded(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    if name in ("stream", "astream"):

        @functools.wraps(original)
        def gen_wrapper(self: BaseChatModel, *args: Any, **kwargs: Any) -> Any:
            check(self)
            return original(self, *args, **kwargs)

        return gen_wrapper
    if name.startswith("_a"):

        @functools.wraps(original)
        async def async_wrapper(self: BaseChatModel, *args: Any, **kwargs: Any) -> Any:
            check(self)
            return await original(self, *args, **kwargs)

        return async_wrapper

    @functools.wraps(original)
    def sync_wrapper(self: BaseChatModel, *args: Any, **kwargs: Any) -> Any:
        check(self)
        return original(self, *args, **kwargs)

    return sync_wrapper


def install() -> None:
    with _State.lock:
        if _State.installed:
            return
        for name in _ENTRY_POINTS:
            setattr(BaseChatModel, name, _guarded(name, getattr(BaseChatModel, name)))
        _State.installed = True


@contextmanager
def blocked() -> Iterator[None]:
    """Within this block, any request to a model that is not a fake raises."""
    install()
    with _State.lock:
        _State.blocked += 1
    try:
        yield
    finally:
        with _State.lock:
            _State.blocked -= 1
