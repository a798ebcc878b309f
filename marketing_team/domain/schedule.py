"""A recurring job as the catalog states it, and why one of its firings started nothing."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from marketing_team.domain.goal import Category, Priority
from marketing_team.domain.values import Frozen


class ScheduleEntry(Frozen):
    """A recurring job: a goal text or a pipeline template on a cron expression."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    cron: str
    kind: Literal["goal", "pipeline"]
    target: str = Field(min_length=1)
    priority: Priority = Priority.P2
    category: Category | None = None
    enabled: bool = True
    description: str = ""


class SkipReason(StrEnum):
    """Why a firing started nothing (recorded on the schedule and logged)."""

    DISABLED = "disabled"
    PREVIOUS_RUN_ACTIVE = "previous_run_active"
    BUDGET_WARNING = "budget_warning"
    BUDGET_THROTTLE = "budget_throttle"
    BUDGET_CRITICAL = "budget_critical"
    BUDGET_EXHAUSTED = "budget_exhausted"
