"""What code outside a graph relies on: its state is the ``TypedDict`` of its ``state.py``;
its runtime context is a frozen dataclass that carries the once-only emitter.

``S`` and ``C`` are the type variables of an agent's graph state and context
(``agents.core.Binding``), so a type checker and an editor follow an event from the agent
worker into its graph's state.
"""

from __future__ import annotations

from dataclasses import Field
from typing import Any, ClassVar, Protocol

from typing_extensions import TypeVar

from tools.once import OnceEmitter


class GraphState(Protocol):
    """A graph's state: a ``TypedDict``."""

    __required_keys__: ClassVar[frozenset[str]]
    __optional_keys__: ClassVar[frozenset[str]]


class GraphContext(Protocol):
    """A graph's runtime context, as far as the agent worker uses it."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def emitter(self) -> OnceEmitter: ...


S = TypeVar("S", bound=GraphState, default=Any)
C = TypeVar("C", bound=GraphContext, default=Any)
