"""Budget gate seams (stub until the budget issue lands): the task pre-run hook, publish check, metering."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from marketing_team.domain import Goal
from marketing_team.llm.protocol import Reply, Tier
from marketing_team.runtime import Runtime


def before_task(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Veto or defer a task before its body runs (called from TeamTask.before_start)."""


def before_publish(rt: Runtime, goal: Goal) -> None:
    """Refuse to publish a goal the budget does not allow."""


@contextlib.contextmanager
def metered_call(rt: Runtime, goal_id: str, skill: str, model: str,
                 max_tokens: int) -> Iterator[Callable[[Reply], None]]:
    """Reserve a call's worst case before it, settle to its actual cost after (yields settle)."""

    def settle(reply: Reply) -> None:
        return None

    yield settle


def effective_tier(rt: Runtime, tier: Tier) -> Tier:
    """The tier after budget overrides (critical forces haiku)."""
    return tier
