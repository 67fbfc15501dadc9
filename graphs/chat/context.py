"""What the chat graph runs with (its ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass

from graphs.llm import ModelGateway
from tools.context import ToolContext


@dataclass(frozen=True)
class ChatContext:
    tools: ToolContext
    gateway: ModelGateway
    #: from authentication, never from the prompt; None for staff without a customer
    customer_id: str | None
    passages: int = 3
    history: int = 12
    #: the least cosine between the question and a passage for the model to answer from it
    #: (measured on the golden chat cases: ``prompt.yaml``'s ``unknown`` below it)
    min_relevance: float = 0.0

    def __post_init__(self) -> None:
        if self.tools.audience != "chat":
            raise ValueError(
                f"the chat graph sees what a customer may see: give it a ToolContext with "
                f"audience 'chat', not {self.tools.audience!r}"
            )
