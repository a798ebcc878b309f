"""What every trigger (schedule or event) shares: the budget question and a start that never strands a goal."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from marketing_team import dispatch, flow
from marketing_team.domain import Goal, Priority
from marketing_team.errors import ConfigurationError, MarketingTeamError
from marketing_team.runtime import Runtime

# SPEC §8: warning lets P0-P2 run, throttle P0-P1, critical P0 only, exhausted nothing. Used only
# until the budget engine (budget.standing, budget_policy.allows) is importable.
_LOWEST_ALLOWED_RANK = {"normal": 3, "warning": 2, "throttle": 1, "critical": 0, "exhausted": -1}


def current_level(rt: Runtime) -> str:
    """The budget level's name (normal, warning, throttle, critical, exhausted)."""
    # Imported lazily: the budget engine owns the ledger; triggers only read its verdict.
    from marketing_team import budget

    standing = getattr(budget, "standing", None)
    if standing is None:
        # The seam stub (no engine, no ledger) allows everything: nothing was spent.
        return "normal"
    return str(standing(rt).level.value)


def allowed_by_budget(rt: Runtime, priority: Priority) -> tuple[bool, str]:
    """(allowed, level): whether priority may start work at the current budget level."""
    level = current_level(rt)
    try:
        from marketing_team.budget_policy import Level, allows
    except ImportError:
        lowest = _LOWEST_ALLOWED_RANK.get(level)
        if lowest is None:
            raise ConfigurationError(f"budget reported an unknown level {level!r}") from None
        return priority.rank <= lowest, level
    return allows(Level(level), priority), level


def start_goal(app: Celery, rt: Runtime, goal: Goal, on_created: Callable[[Goal], object] | None = None) -> Goal:
    """Save and publish a planned goal; if publishing fails the goal is failed with the reason."""
    rt.goals.create(goal)
    if on_created is not None:
        on_created(goal)
    try:
        return dispatch.start(app, rt, goal.id)
    except MarketingTeamError as exc:
        # A planned goal nobody publishes would look active forever (and block its schedule).
        flow.fail_goal(rt, goal.id, f"could not start: {type(exc).__name__}: {exc}"[:300])
        raise
