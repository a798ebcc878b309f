"""Human review items: a decision a person owes the team, and why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from marketing_team.domain.values import utcnow


class Reason(StrEnum):
    """Why a task or goal needs a person (SPEC §6)."""

    REPEATED_REVISIONS = "repeated_revisions"
    REJECTED = "rejected"
    CASCADING_FAILURE = "cascading_failure"
    BUDGET = "budget"
    GOAL_UNMET = "goal_unmet"


class ItemStatus(StrEnum):
    """Where a review item stands."""

    OPEN = "open"
    APPROVED = "approved"
    REVISED = "revised"
    REJECTED = "rejected"
    CLOSED = "closed"  # its goal was cancelled: nothing left to decide


class ReviewItem(BaseModel):
    """One decision a person owes the team."""

    id: str
    goal_id: str
    task_id: str | None = None
    skill: str | None = None
    reason: Reason
    summary: str = ""
    deliverable: str | None = None
    status: ItemStatus = ItemStatus.OPEN
    notes: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
