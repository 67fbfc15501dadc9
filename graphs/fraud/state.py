"""The fraud graph's state, and the model's structured answer."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from graphs.approval import ApprovalAnswer, ApprovalAsk

Action = Literal["allow", "hold", "block"]
SEVERITY: dict[str, int] = {"allow": 0, "hold": 1, "block": 2}


class Assessment(BaseModel):
    """What the model is asked for: a typed judgement that cites its evidence."""

    risk: float = Field(ge=0, le=1, description="Probability that the payment is fraud, 0 to 1.")
    action: Action = Field(description="allow, hold for review, or block (an analyst approves).")
    rationale: str = Field(description="Two sentences for the analyst.")
    evidence: list[str] = Field(default_factory=list, description="Facts the rationale rests on.")


class ScreeningFacts(TypedDict):
    """Why screening escalated the payment (``agents.fraud.screening``)."""

    risk: float
    reasons: list[str]
    signals: dict[str, float | int | str | bool | None]


class FraudState(TypedDict, total=False):
    #: the ``Transaction`` event as JSON
    transaction: dict[str, Any]
    screening: ScreeningFacts
    profile: dict[str, Any] | None
    #: the card's last payments, newest first, as screening kept them (None: none are kept)
    recent: list[dict[str, Any]] | None
    policy: list[dict[str, Any]]
    assessment: dict[str, Any] | None
    assessment_error: str | None
    action: Action
    risk: float
    rationale: str
    #: how the action was decided, in the policy's own words (deterministic)
    verdict: str
    decided_by: Literal["graph", "policy"]
    request: ApprovalAsk
    response: ApprovalAnswer
    outcome: str
    model_calls: Annotated[list[dict[str, Any]], operator.add]
