"""What the web process reports about the team: `/health` components and `/metrics` in Prometheus text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import redis

from marketing_team.budget.policy import to_usd
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.goal import GoalStatus, TaskStatus
from marketing_team.orchestration.beat import BEAT_STALE_S, HEARTBEAT_TTL_S, heartbeat_age
from marketing_team.orchestration.control import CeleryApp, ping_workers

LEVELS = ("normal", "warning", "throttle", "critical", "exhausted")
# Every worker's pong is awaited to count them: a live one answers within milliseconds, so this
# is what a probe pays when one is missing.
WORKER_PING_S = 0.5
NO_WORKER = ("no worker answers ping: events are accepted and queued, and wait until a worker "
             "starts (`mtctl up` or `celery -A marketing_team worker`)")


def health(rt: Runtime, celery: CeleryApp) -> tuple[bool, dict[str, Any]]:
    """(healthy, body): Redis ping, the live workers, the beat heartbeat and the budget level.

    Unhealthy (503, status "down") when Redis is down or no worker answers: the team then does
    nothing, whatever the web process itself can still accept. Never a secret in the body.
    """
    components: dict[str, str] = {}
    try:
        rt.redis.ping()
        components["redis"] = "ok"
    except redis.RedisError:
        components["redis"] = "down"
        return False, {"status": "down", "reason": "Redis is unreachable", "components": components}
    workers = len(ping_workers(celery, WORKER_PING_S, first_only=False))
    components["workers"] = "ok" if workers else "down"
    age = heartbeat_age(rt.redis)
    if age is None:
        components["beat"] = f"absent (no tick within {HEARTBEAT_TTL_S} s)"
    else:
        components["beat"] = "ok" if age <= BEAT_STALE_S else f"stale ({age:.0f} s)"
    try:
        components["budget"] = rt.budget.standing().level.value
    except (MarketingTeamError, redis.RedisError) as exc:
        components["budget"] = f"unknown ({type(exc).__name__})"
    if not workers:
        return False, {"status": "down", "reason": NO_WORKER, "workers": 0, "components": components}
    degraded = components["beat"] != "ok" or components["budget"] not in ("normal", "warning")
    return True, {"status": "degraded" if degraded else "ok", "workers": workers, "components": components}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, help_text: str, samples: list[tuple[dict[str, str], float | Decimal]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
    return lines


def metrics(rt: Runtime) -> str:
    """Goals by status, tasks of goals under way, the month's spend and the budget level (Prometheus 0.0.4).

    Read from indexes and counters kept with every goal change: constant time in stored goals.
    """
    counts = rt.goals.counts()
    tasks = rt.goals.active_task_counts()
    try:
        now = rt.budget.standing()
        level, spent = now.level.value, to_usd(now.spent)
    except (MarketingTeamError, redis.RedisError):
        level, spent = "unknown", Decimal("0")
    lines = _family("mt_goals", "Goals kept, by status.",
                    [({"status": s.value}, counts[s]) for s in GoalStatus])
    lines += _family("mt_tasks", "Skill tasks of goals under way, by status.",
                     [({"status": s.value}, tasks.get(s.value, 0)) for s in TaskStatus])
    lines += _family("mt_spend_usd", "USD spent this month (the ledger).", [({}, spent)])
    lines += _family("mt_budget_monthly_usd", "The monthly budget in USD.", [({}, rt.settings.budget_monthly)])
    lines += _family("mt_budget_level", "1 for the current budget level.",
                     [({"level": name}, 1 if name == level else 0) for name in LEVELS])
    return "\n".join(lines) + "\n"
