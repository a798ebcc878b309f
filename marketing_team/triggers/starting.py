"""How a trigger starts a goal: a starter handed in by the orchestration layer (triggers never publish)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from marketing_team.domain.goal import Goal


class GoalStarter(Protocol):
    """Save and publish a planned goal; a failed publish fails the goal with its reason and raises.

    `on_created` runs once the goal is saved and before it is published, so a trigger can record
    its firing even when publishing fails.
    """

    def __call__(self, goal: Goal, on_created: Callable[[Goal], object] | None = None) -> Goal:
        """Start the goal; returns it as started."""
        ...
