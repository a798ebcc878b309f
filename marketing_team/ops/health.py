"""Health: Redis, workers, beat and budget checked live, folded into a degradation level that gates dispatch.

The worst level is `down`, not `offline`: "offline" is the provider that writes drafts without a
model, and a team that runs fine on it must not read as broken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from marketing_team.config.settings import Settings, mask_url
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BrokerUnavailableError, MarketingTeamError
from marketing_team.domain.goal import Priority
from marketing_team.observability import refusal
from marketing_team.ops.embedded import EmbeddedServer, ping
from marketing_team.ops.supervisor import embedded_url
from marketing_team.orchestration.beat import BEAT_STALE_S, heartbeat_age
from marketing_team.orchestration.control import CeleryApp, inside_task, ping_workers
from marketing_team.store.connection import redis_py_url
from marketing_team.store.durability import volatility

log = logging.getLogger(__name__)
PING_TIMEOUT_S = 1.0
# The lowest priority rank each level still dispatches (P0 = 0 … P3 = 3; -1: nothing).
_LOWEST_DISPATCHED_RANK = {"full": 3, "limited": 2, "minimal": 1, "down": -1}
ON_DEMAND = ("embedded mode: each `mtctl goal` runs its own in-process worker, so none runs between "
             "commands; `mtctl up` keeps one running for schedules and webhooks")


class Mode(StrEnum):
    """Where the team's work runs, which decides what health expects to find."""

    REDIS = "redis"  # REDIS_URL: workers and beat of their own must answer
    UP = "up"  # a live `mtctl up` serves this workspace's embedded server with its workers
    EMBEDDED = "embedded"  # neither: each `mtctl goal` brings its own in-process worker


def mode_of(settings: Settings) -> tuple[Mode, bool]:
    """How the team runs for these settings, and whether a worker may answer right now.

    In embedded mode a worker answers only while some `mtctl goal` runs (its private server is
    then up); otherwise there is nobody to ping and waiting for a pong would only cost time.
    """
    if settings.broker_url is not None:
        return Mode.REDIS, True
    if embedded_url(settings) is not None:
        return Mode.UP, True
    server = EmbeddedServer(settings.workspace / ".state")
    return Mode.EMBEDDED, ping(str(server.socket_path))


class Degradation(StrEnum):
    """How degraded the team is; each level dispatches less (see dispatch_allowed)."""

    FULL = "full"
    LIMITED = "limited"
    MINIMAL = "minimal"
    DOWN = "down"

    @property
    def exit_code(self) -> int:
        """`mtctl health` exit code: 0 full, 1 limited, 2 minimal, 3 down."""
        return list(Degradation).index(self)


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

    degradation: Degradation
    reason: str
    components: tuple[Component, ...]
    mode: Mode = Mode.REDIS

    def allows(self, priority: Priority) -> tuple[bool, str]:
        """dispatch_allowed for this level, with the cause of the degradation in the reason."""
        allowed, why = dispatch_allowed(self.degradation, priority)
        return allowed, why if allowed else f"{why}: {self.reason}"

    def as_json(self) -> dict[str, Any]:
        """`{"level", "reason", "mode", "components": {name: status}, "details": {name: detail}}`."""
        return {"level": self.degradation.value, "reason": self.reason, "mode": self.mode.value,
                "components": {c.name: c.status for c in self.components},
                "details": {c.name: c.detail for c in self.components}}


def degradation_for(*, redis_ok: bool, workers_ok: bool, beat_ok: bool, budget: str) -> tuple[Degradation, str]:
    """The degradation level and its reason; budget is a budget level name (normal … exhausted)."""
    if not redis_ok:
        return Degradation.DOWN, "Redis is unreachable"
    if budget == "exhausted":
        return Degradation.DOWN, "the monthly budget is spent"
    if not workers_ok:
        return Degradation.DOWN, "no worker answers (start one: `mtctl up` or `celery -A marketing_team worker`)"
    if budget in ("throttle", "critical"):
        return Degradation.MINIMAL, f"budget level {budget}"
    if budget == "warning":
        return Degradation.LIMITED, "budget level warning"
    if not beat_ok:
        return Degradation.LIMITED, "beat is not running: schedules will not fire"
    return Degradation.FULL, "all components healthy"


def dispatch_allowed(level: Degradation, priority: Priority) -> tuple[bool, str]:
    """Whether work of this priority may be dispatched at this level, and why not."""
    if priority.rank <= _LOWEST_DISPATCHED_RANK[level.value]:
        return True, ""
    if level is Degradation.DOWN:
        return False, "down: nothing is dispatched"
    allowed = "P0-P2" if level is Degradation.LIMITED else "P0-P1"
    return False, f"{level.value}: only {allowed} work is dispatched, {priority.value} is deferred"


def check(rt: Runtime, app: CeleryApp | None = None, *, expect_beat: bool = True,
          ping_timeout_s: float = PING_TIMEOUT_S, mode: Mode = Mode.REDIS) -> Health:
    """Check every component now (about 5 ms when healthy; ping_timeout_s when no worker answers).

    In embedded mode no worker and no beat between commands is what should be: workers are
    "on demand" (or ok while a goal runs one) and beat is not expected.
    """
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
            # Reads (and PONG) still work while writes are refused; so does nothing else here:
            # asking the workers is a write. Said first, so it is not read as "no worker".
            refused = refusal.probe(client)
        except redis.RedisError as exc:
            refused = refusal.refusal_of(exc)
            if refused is None:
                down = Component("redis", "down", False, f"{mask_url(url)}: {type(exc).__name__}")
                return _fold(down, Component("workers", "unknown", False),
                             Component("beat", "unknown", False), Component("budget", "unknown", True),
                             mode)
        if refused is not None:
            down = Component("redis", REFUSING, False, f"{mask_url(url)} refuses writes: {refused}")
            return _fold(down, Component("workers", "unknown", False),
                         Component("beat", "unknown", False), Component("budget", "unknown", True),
                         mode)
        problem = volatility(client)
        detail = mask_url(url) + (f"; the budget ledger would not survive a restart: {problem}"
                                  if problem else "")
        embedded = mode is Mode.EMBEDDED
        workers = _workers(app, ping_timeout_s, on_demand=embedded)
        return _fold(Component("redis", "ok", True, detail), workers,
                     _beat(client, expect_beat and not embedded), _budget(rt), mode)
    finally:
        client.close()


REFUSING = "refusing writes"


def _fold(redis_c: Component, workers: Component, beat: Component, budget: Component,
          mode: Mode = Mode.REDIS) -> Health:
    level, reason = degradation_for(redis_ok=redis_c.ok, workers_ok=workers.ok, beat_ok=beat.ok,
                              budget=budget.status)
    if redis_c.status == REFUSING:  # it answers, it is not "unreachable": say what it does
        reason = f"Redis refuses writes ({redis_c.detail})"
    if mode is Mode.EMBEDDED and level is Degradation.FULL:
        reason = "embedded mode: goals run their own worker; schedules and webhooks need `mtctl up`"
    return Health(level, reason, (redis_c, workers, beat, budget), mode)


def _workers(app: CeleryApp | None, timeout_s: float, *, on_demand: bool = False) -> Component:
    if inside_task():
        return Component("workers", "ok", True, "checked from inside a running worker")
    if on_demand:
        names = _answering(app, timeout_s)
        if names:
            return Component("workers", "ok", True, f"a running goal's worker: {', '.join(names)}")
        return Component("workers", "on demand", True, ON_DEMAND)
    if app is None:
        return Component("workers", "unknown", False, "no Celery app to ask the workers with")
    try:
        names = ping_workers(app, timeout_s)
    except (redis.RedisError, OSError, BrokerUnavailableError) as exc:
        return Component("workers", "unknown", False, f"ping failed: {type(exc).__name__}")
    if not names:
        return Component("workers", "down", False, f"no worker answered ping within {timeout_s:g} s")
    return Component("workers", "ok", True, ", ".join(names))


def _answering(app: CeleryApp | None, timeout_s: float) -> list[str]:
    """Who answers a ping; nobody when there is no app or the ping fails."""
    if app is None:
        return []
    try:
        return ping_workers(app, timeout_s)
    except (redis.RedisError, OSError, BrokerUnavailableError):
        return []


def _beat(client: redis.Redis, expected: bool) -> Component:
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
    try:
        now = rt.budget.standing()
    except (redis.RedisError, MarketingTeamError) as exc:
        return Component("budget", "unknown", True, f"ledger unreadable: {type(exc).__name__}")
    spent, total = now.spent / 1_000_000, now.budget / 1_000_000
    return Component("budget", now.level.value, now.level.value != "exhausted",
                     f"${spent:.2f} of ${total:.2f} spent in {now.month}")


__all__ = ["Component", "Degradation", "Health", "Mode", "check", "degradation_for", "dispatch_allowed",
           "mode_of"]
