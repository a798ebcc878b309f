"""Health: Redis, workers, beat and budget checked live, folded into a degradation level that gates dispatch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import redis

from marketing_team.domain import Priority
from marketing_team.errors import MarketingTeamError
from marketing_team.runtime import Runtime, redis_py_url
from marketing_team.settings import mask_url

if TYPE_CHECKING:
    from celery import Celery

    from marketing_team.llm.protocol import Tier

log = logging.getLogger(__name__)
BEAT_STALE_S = 60.0
PING_TIMEOUT_S = 1.0
# The lowest priority rank each level still dispatches (P0 = 0 … P3 = 3; -1: nothing).
_LOWEST_RANK = {"full": 3, "limited": 2, "minimal": 1, "offline": -1}


class Level(StrEnum):
    """How degraded the team is; each level dispatches less (see dispatch_allowed)."""

    FULL = "full"
    LIMITED = "limited"
    MINIMAL = "minimal"
    OFFLINE = "offline"

    @property
    def exit_code(self) -> int:
        """`mtctl health` exit code: 0 full, 1 limited, 2 minimal, 3 offline."""
        return list(Level).index(self)


@dataclass(frozen=True)
class Component:
    """One checked part: its status word for scripts and a detail line for people (no secrets)."""

    name: str
    status: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Health:
    """The checked components and the level they add up to, with the reason for it."""

    level: Level
    reason: str
    components: tuple[Component, ...]

    def allows(self, priority: Priority) -> tuple[bool, str]:
        """dispatch_allowed for this level, with the cause of the degradation in the reason."""
        allowed, why = dispatch_allowed(self.level, priority)
        return allowed, why if allowed else f"{why}: {self.reason}"

    def as_json(self) -> dict[str, Any]:
        """`{"level", "reason", "components": {name: status}, "details": {name: detail}}`."""
        return {"level": self.level.value, "reason": self.reason,
                "components": {c.name: c.status for c in self.components},
                "details": {c.name: c.detail for c in self.components}}


def level_for(*, redis_ok: bool, workers_ok: bool, beat_ok: bool, budget: str) -> tuple[Level, str]:
    """The degradation level and its reason; budget is a budget level name (normal … exhausted)."""
    if not redis_ok:
        return Level.OFFLINE, "Redis is unreachable"
    if budget == "exhausted":
        return Level.OFFLINE, "the monthly budget is spent"
    if not workers_ok:
        return Level.OFFLINE, "no worker answers (start one: `mtctl up` or `celery -A marketing_team worker`)"
    if budget in ("throttle", "critical"):
        return Level.MINIMAL, f"budget level {budget}"
    if budget == "warning":
        return Level.LIMITED, "budget level warning"
    if not beat_ok:
        return Level.LIMITED, "beat is not running: schedules will not fire"
    return Level.FULL, "all components healthy"


def dispatch_allowed(level: Level, priority: Priority) -> tuple[bool, str]:
    """Whether work of this priority may be dispatched at this level, and why not."""
    if priority.rank <= _LOWEST_RANK[level.value]:
        return True, ""
    if level is Level.OFFLINE:
        return False, "offline: nothing is dispatched"
    allowed = "P0-P2" if level is Level.LIMITED else "P0-P1"
    return False, f"{level.value}: only {allowed} work is dispatched, {priority.value} is deferred"


def forced_tier(level: Level, tier: Tier) -> Tier:
    """The model tier a call may use at this level: minimal forces haiku."""
    return "haiku" if level in (Level.MINIMAL, Level.OFFLINE) else tier


def check(rt: Runtime, app: Celery | None = None, *, expect_beat: bool = True,
          ping_timeout_s: float = PING_TIMEOUT_S) -> Health:
    """Check every component now (about 5 ms when healthy; ping_timeout_s when no worker answers)."""
    url = rt.broker_url or rt.settings.broker_url
    if url is None:
        down = Component("redis", "down", False, "no REDIS_URL set and no `mtctl up` server running")
        return _fold(down, Component("workers", "unknown", False), Component("beat", "unknown", False),
                     Component("budget", "unknown", True))
    client = redis.Redis.from_url(redis_py_url(url), socket_connect_timeout=ping_timeout_s,
                                  socket_timeout=ping_timeout_s)
    try:
        try:
            client.ping()
        except redis.RedisError as exc:
            down = Component("redis", "down", False, f"{mask_url(url)}: {type(exc).__name__}")
            return _fold(down, Component("workers", "unknown", False),
                         Component("beat", "unknown", False), Component("budget", "unknown", True))
        return _fold(Component("redis", "ok", True, mask_url(url)),
                     _workers(app, ping_timeout_s), _beat(client, expect_beat), _budget(rt))
    finally:
        client.close()


def _fold(redis_c: Component, workers: Component, beat: Component, budget: Component) -> Health:
    level, reason = level_for(redis_ok=redis_c.ok, workers_ok=workers.ok, beat_ok=beat.ok,
                              budget=budget.status)
    return Health(level, reason, (redis_c, workers, beat, budget))


def _workers(app: Celery | None, timeout_s: float) -> Component:
    from celery._state import get_current_task

    if get_current_task() is not None:
        return Component("workers", "ok", True, "checked from inside a running worker")
    if app is None:
        from marketing_team.celery_app import get_app

        app = get_app()
    try:
        # limit=1: return at the first pong instead of waiting out the timeout.
        replies = app.control.ping(timeout=timeout_s, limit=1)
    except (redis.RedisError, OSError) as exc:
        return Component("workers", "unknown", False, f"ping failed: {type(exc).__name__}")
    if not replies:
        return Component("workers", "down", False, f"no worker answered ping within {timeout_s:g} s")
    names = sorted(name for reply in replies for name in reply)
    return Component("workers", "ok", True, ", ".join(names))


def _beat(client: redis.Redis, expected: bool) -> Component:
    from marketing_team.beat import heartbeat_age

    try:
        age = heartbeat_age(client)
    except (redis.RedisError, ValueError, KeyError) as exc:
        return Component("beat", "unknown", not expected, f"heartbeat unreadable: {type(exc).__name__}")
    if age is None:
        status, detail = "down", "no heartbeat"
    elif age > BEAT_STALE_S:
        status, detail = "stale", f"last heartbeat {age:.0f} s ago"
    else:
        return Component("beat", "ok", True, f"last heartbeat {age:.0f} s ago")
    if not expected:
        return Component("beat", "not expected", True, detail)
    return Component("beat", status, False, detail)


def _budget(rt: Runtime) -> Component:
    from marketing_team import budget

    try:
        now = budget.standing(rt)
    except (redis.RedisError, MarketingTeamError) as exc:
        return Component("budget", "unknown", True, f"ledger unreadable: {type(exc).__name__}")
    spent, total = now.spent / 1_000_000, now.budget / 1_000_000
    return Component("budget", now.level.value, now.level.value != "exhausted",
                     f"${spent:.2f} of ${total:.2f} spent in {now.month}")


__all__ = ["Component", "Health", "Level", "check", "dispatch_allowed", "forced_tier", "level_for"]
