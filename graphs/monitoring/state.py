"""The monitoring graph's state, and the model's drafted alert."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class AlertDraft(BaseModel):
    """What the model is asked for: one alert every affected customer can read."""

    title: str = Field(description="Under ten words.")
    body: str = Field(description="Three short sentences: what happens, what to do, our help.")


class MonitoringState(TypedDict, total=False):
    signal: dict[str, Any]
    customers: list[str]
    assets: list[str]
    policy: list[dict[str, Any]]
    draft: dict[str, Any] | None
    draft_error: str | None
    outcome: str
    model_calls: Annotated[list[dict[str, Any]], operator.add]
