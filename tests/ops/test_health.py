"""Health: live checks fold into full / limited / minimal / down, which decides what may be dispatched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BudgetDeferred
from marketing_team.domain.goal import Priority
from marketing_team.llm.offline import OfflineProvider
from marketing_team.observability import metrics
from marketing_team.ops import health
from marketing_team.ops.health import Degradation
from marketing_team.orchestration.beat import write_heartbeat
from marketing_team.orchestration.control import ping_workers
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import (
    RunningServer,
    free_port,
    refuse_writes,
    start_test_server,
)
from marketing_team.testing.team import Team


def _answering(team: Team) -> Team:
    """The team once its in-process worker answers a ping: its control channel can come up a
    moment after the consumer is ready, and a check sent before would find no worker."""
    wait_for(lambda: ping_workers(team.app, 1.0), 10, "the in-process worker to answer a ping")
    return team


def _mtctl_health(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    result = subprocess.run([sys.executable, "-m", "marketing_team", "health", "--json"],
                            env=child_env(env), capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize(("redis_ok", "workers_ok", "beat_ok", "budget_level", "expected"), [
    (True, True, True, "normal", Degradation.FULL),
    (True, True, False, "normal", Degradation.LIMITED),
    (True, True, True, "warning", Degradation.LIMITED),
    (True, True, True, "throttle", Degradation.MINIMAL),
    (True, True, True, "critical", Degradation.MINIMAL),
    (True, True, True, "exhausted", Degradation.DOWN),
    (True, False, True, "normal", Degradation.DOWN),
    (False, False, False, "unknown", Degradation.DOWN),
])
def test_health_level_follows_the_worst_component(redis_ok: bool, workers_ok: bool, beat_ok: bool,
                                                 budget_level: str, expected: Degradation) -> None:
    level, reason = health.degradation_for(redis_ok=redis_ok, workers_ok=workers_ok, beat_ok=beat_ok,
                                     budget=budget_level)
    assert level is expected and reason


@pytest.mark.parametrize(("level", "lowest_allowed"), [
    (Degradation.FULL, Priority.P3), (Degradation.LIMITED, Priority.P2), (Degradation.MINIMAL, Priority.P1),
    (Degradation.DOWN, None)])
def test_health_dispatch_allowed_defers_low_priorities_by_level(level: Degradation,
                                                                lowest_allowed: Priority | None) -> None:
    for priority in Priority:
        allowed, reason = health.dispatch_allowed(level, priority)
        assert allowed is (lowest_allowed is not None and priority.rank <= lowest_allowed.rank)
        assert allowed or reason.startswith(level.value)
    assert [lv.exit_code for lv in Degradation] == [0, 1, 2, 3]
    # "offline" names the provider that needs no model; the worst level is "down"
    assert [lv.value for lv in Degradation] == ["full", "limited", "minimal", "down"]


def test_health_is_full_with_redis_a_worker_a_fresh_beat_and_budget_to_spare(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    with Team(redis_server, tmp_path / "ws", OfflineProvider()) as started:
        team = _answering(started)
        write_heartbeat(redis_client)
        started = time.monotonic()
        report = health.check(team.rt, team.app)
        took = time.monotonic() - started

    assert report.degradation is Degradation.FULL, report.as_json()
    assert report.as_json()["components"] == {"redis": "ok", "workers": "ok", "beat": "ok",
                                              "budget": "normal"}
    assert took < 0.5, f"a healthy check took {took:.3f} s"


def test_health_stale_beat_heartbeat_makes_the_team_limited(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    with Team(redis_server, tmp_path / "ws", OfflineProvider()) as started:
        team = _answering(started)
        write_heartbeat(redis_client, now=time.time() - 120)
        report = health.check(team.rt, team.app)
        relaxed = health.check(team.rt, team.app, expect_beat=False)

    assert report.degradation is Degradation.LIMITED and report.as_json()["components"]["beat"] == "stale"
    assert report.allows(Priority.P3)[0] is False and report.allows(Priority.P2)[0] is True
    assert relaxed.degradation is Degradation.FULL  # e.g. one-shot embedded runs, which start no beat


def _workers_ok(report: health.Health) -> health.Health | None:
    return report if report.as_json()["components"]["workers"] == "ok" else None


def test_health_budget_at_critical_is_minimal_and_refuses_p2(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given a $100 month with $96 spent (critical: at least 95 %)
    with Team(redis_server, tmp_path / "ws", OfflineProvider(), budget_monthly=Decimal("100")) as started:
        team = _answering(started)
        write_heartbeat(redis_client)
        team.rt.budget.ledger.record(96_000_000, skill="copywriting", model="claude-sonnet-5")

        # When health is checked (until the worker answers its ping: a loaded machine can miss
        # the first deadline), and a P2 goal is submitted
        report = wait_for(lambda: _workers_ok(health.check(team.rt, team.app)), 30,
                          "the worker to answer the health check's ping")
        with pytest.raises(BudgetDeferred):
            team.goal("Write a blog post about onboarding", priority=Priority.P2)

    # Then the team is minimal: P0-P1 only (on haiku), P2 refused with the reason, nothing ran
    assert report.degradation is Degradation.MINIMAL and report.as_json()["components"]["budget"] == "critical"
    allowed, reason = report.allows(Priority.P2)
    assert not allowed and "P2 is deferred" in reason and "critical" in reason
    assert report.allows(Priority.P1) == (True, "")
    assert metrics.skills(redis_client) == {}


def test_health_cli_reports_a_stopped_worker_and_exits_non_zero(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given a team with a worker and a fresh beat heartbeat, which `mtctl health` finds healthy
    env = {"REDIS_URL": redis_server.url, "WORKSPACE_DIR": str(tmp_path / "ws")}
    with Team(redis_server, tmp_path / "ws", OfflineProvider()) as started:
        team = _answering(started)
        write_heartbeat(redis_client)
        healthy_code, healthy = _mtctl_health(env)

        # When the worker stops
        assert team.worker is not None
        team.worker.stop()
        code, report = _mtctl_health(env)

    # Then health says the workers are down and exits with the worst level's code
    assert (healthy_code, healthy["level"]) == (0, "full"), healthy
    assert healthy["mode"] == "redis"
    assert code == 3 and report["level"] == "down"
    assert report["components"]["workers"] == "down"  # type: ignore[index]
    assert "no worker" in str(report["reason"])


def test_health_unreachable_redis_is_down_without_showing_the_password(tmp_path: Path) -> None:
    url = f"redis://:pw-FAKE-7c6b5a@127.0.0.1:{free_port()}/0"
    settings = load_settings(_env_file=None, redis_url=url, workspace_dir=tmp_path / "ws")
    report = health.check(Runtime(settings=settings, llm=OfflineProvider(), broker_url=url))
    code, printed = _mtctl_health({"REDIS_URL": url, "WORKSPACE_DIR": str(tmp_path / "ws")})

    assert report.degradation is Degradation.DOWN and report.reason == "Redis is unreachable"
    assert code == 3 and printed["components"]["redis"] == "down"  # type: ignore[index]
    assert "pw-FAKE-7c6b5a" not in json.dumps(printed) and "***" in json.dumps(printed)


@pytest.mark.parametrize("cause, words", [("OOM", "maxmemory"), ("MISCONF", "disk")])
def test_health_says_redis_refuses_writes_before_anything_else(tmp_path: Path, cause: str,
                                                               words: str) -> None:
    server = start_test_server(tmp_path / "server")
    try:
        refuse_writes(server, cause)  # type: ignore[arg-type]
        settings = load_settings(_env_file=None, redis_url=server.url, workspace_dir=tmp_path / "ws")
        report = health.check(Runtime(settings=settings, llm=OfflineProvider(),
                                      broker_url=server.url), ping_timeout_s=0.3)
    finally:
        server.stop()

    assert report.degradation is Degradation.DOWN and report.reason.startswith("Redis refuses writes")
    redis_part = next(part for part in report.components if part.name == "redis")
    assert "refuses writes" in redis_part.detail and words in redis_part.detail
