"""Events: something that happened outside (webhook) or inside the team (budget, failures)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, JsonValue

from marketing_team.domain.values import Frozen, new_id, utcnow


class EventType(StrEnum):
    """Every event the bus knows."""

    TRAFFIC_DROP = "traffic_drop"
    CONVERSION_DROP = "conversion_drop"
    COMPETITOR_LAUNCH = "competitor_launch"
    EMAIL_BOUNCE_SPIKE = "email_bounce_spike"
    AB_TEST_SIGNIFICANT = "ab_test_significant"
    NEW_FEATURE_SHIPPED = "new_feature_shipped"
    NEW_BLOG_POST = "new_blog_post"
    BUDGET_WARNING = "budget_warning"
    BUDGET_CRITICAL = "budget_critical"
    AGENT_FAILURE = "agent_failure"
    PIPELINE_BLOCKED = "pipeline_blocked"
    MANUAL_GOAL = "manual_goal"


# Raised by the team about itself; a webhook sender may not forge them.
INTERNAL_EVENTS = frozenset({EventType.BUDGET_WARNING, EventType.BUDGET_CRITICAL,
                             EventType.PIPELINE_BLOCKED, EventType.AGENT_FAILURE})


class Event(Frozen):
    """Something that happened outside (webhook) or inside (budget, failures)."""

    id: str = Field(default_factory=lambda: new_id("evt"), min_length=1, max_length=128)
    type: EventType
    timestamp: datetime = Field(default_factory=utcnow)
    source: str = Field("internal", max_length=200)
    data: dict[str, JsonValue] = Field(default_factory=dict)
