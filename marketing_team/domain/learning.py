"""What the team learned from an outcome, read back by the skill and the Director."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from marketing_team.domain.goal import Category
from marketing_team.domain.values import Frozen, utcnow


class Outcome(StrEnum):
    """How a task or goal went, for learnings."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"


class Learning(Frozen):
    """A lesson recorded after a task or goal, read back by the skill and the Director."""

    timestamp: datetime = Field(default_factory=utcnow)
    skill: str
    goal_id: str | None = None
    category: Category | None = None
    outcome: Outcome
    lesson: str = Field(min_length=1)
    action: str = ""
    tags: tuple[str, ...] = ()
    confidence: float = Field(0.5, ge=0, le=1)
    # Learned from an offline run (filler text, rule scores): shown, but never fed to a real model.
    offline: bool = False
