"""The maintenance graph's state, and the model's drafted work order."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from graphs.approval import ApprovalAnswer, ApprovalAsk

Priority = Literal["low", "medium", "high", "urgent"]
RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


class WorkOrderDraft(BaseModel):
    """What the model is asked for: a work order a planner can schedule."""

    priority: Priority = Field(description="low, medium, high or urgent.")
    action: str = Field(description="The job, in one imperative sentence.")
    parts: list[str] = Field(default_factory=list, description="Part numbers from the manual.")
    window_hours: float = Field(
        ge=0, le=720, description="Start the job within this many hours from now."
    )
    duration_hours: float = Field(ge=0, le=72, description="How long the job takes.")
    stop_asset: bool = Field(description="Whether the job needs the asset stopped now.")
    rationale: str = Field(description="Two sentences citing the readings and the manual.")


class MaintenanceState(TypedDict, total=False):
    detection: dict[str, Any]
    manual: list[dict[str, Any]]
    history: list[dict[str, Any]]
    draft: dict[str, Any] | None
    draft_error: str | None
    order: dict[str, Any]
    decided_by: Literal["graph", "policy"]
    request: ApprovalAsk
    response: ApprovalAnswer
    outcome: str
    model_calls: Annotated[list[dict[str, Any]], operator.add]
