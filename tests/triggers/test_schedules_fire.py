"""Beat fires schedules through `triggers.fire_schedule`; the task decides and records why it skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from celery.result import allow_join_result
from celery.schedules import schedule
from redbeat import RedBeatSchedulerEntry
from triggers_support import GatedLLM, probe_catalog, start_beat, stop, wait_for

from marketing_team.budget.policy import to_micros
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.beat import HEARTBEAT_KEY, heartbeat_age
from marketing_team.orchestration.beat_schedule import FIRE_TASK, SWEEP_ENTRY
from marketing_team.orchestration.dispatch import starter
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.triggers.firing import fire, states

INTERVAL_S = 1.0
DEFAULT_IDS = ("daily-social", "daily-review", "weekly-content", "weekly-seo", "monthly-cro",
               "monthly-review")


def _team(server: RunningServer, tmp_path: Path, llm: Any, **settings: Any) -> Team:
    if not server.running:
        server.restart()
    return Team(server, tmp_path / "ws", llm, catalog_dir=probe_catalog(tmp_path / "catalog"), **settings)


def _fire(team: Team, schedule_id: str) -> dict[str, Any]:
    """Send the task exactly as Beat does and wait for the worker's answer."""
    with allow_join_result():  # the in-process worker marks this thread as a worker thread
        result: dict[str, Any] = team.app.send_task(FIRE_TASK, args=[schedule_id],
                                                    queue="director").get(timeout=30)
    return result


@pytest.fixture
def beats(redis_server: RunningServer, tmp_path: Path) -> Iterator[list[Any]]:
    """A list to put beat subprocesses in; every one is stopped at the end."""
    procs: list[Any] = []
    yield procs
    for proc in procs:
        stop(proc)


def test_two_beats_fire_a_schedule_once_per_tick(redis_server: RunningServer, tmp_path: Path,
                                                 beats: list[Any]) -> None:
    with _team(redis_server, tmp_path, OfflineProvider()) as team:
        # Disabled: every firing records a `disabled` skip, so counting skips counts firings.
        states(team.rt).set_enabled("probe", False)
        logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
        beats.extend(start_beat(redis_server, tmp_path / "catalog", tmp_path / "ws", log) for log in logs)
        wait_for(lambda: team.rt.redis.exists(HEARTBEAT_KEY), 30, "a beat to take the lock and tick")
        for schedule_id in (*DEFAULT_IDS, "probe"):
            assert team.rt.redis.exists(f"redbeat:{schedule_id}"), schedule_id
        assert team.rt.redis.exists(f"redbeat:{SWEEP_ENTRY}"), "the sweep's entry"
        # Cron is minute-grained: this test adds an interval entry for the probe schedule through
        # redbeat's own API (same task, same args as the seeded cron entry).
        RedBeatSchedulerEntry("probe-every-second", FIRE_TASK, schedule(run_every=INTERVAL_S),
                              args=["probe"], options={"queue": "director"}, app=team.app).save()

        wait_for(lambda: states(team.rt).get("probe").skip_count >= 1, 30, "the first firing")
        started = time.monotonic()
        wait_for(lambda: states(team.rt).get("probe").skip_count >= 7, 30, "six more firings")
        elapsed = time.monotonic() - started

        # Two firers would reach six more firings in about three intervals; one needs six.
        assert elapsed >= 5 * INTERVAL_S, f"6 firings in {elapsed:.1f} s: fired more than once per tick"
        assert all(proc.poll() is None for proc in beats), "both beats stay up"
        holders = [log for log in logs if "Acquired lock" in log.read_text()]
        assert len(holders) == 1, "exactly one beat holds redbeat::lock"
        state = states(team.rt).get("probe")
        assert state.last_skip_reason == "disabled" and state.fire_count == 0
        assert team.rt.goals.ids() == []
        age = heartbeat_age(team.rt.redis)
        assert age is not None and age < 10


def test_schedule_whose_previous_goal_is_running_is_skipped(redis_server: RunningServer,
                                                            tmp_path: Path) -> None:
    llm = GatedLLM()
    with _team(redis_server, tmp_path, llm) as team:
        first = _fire(team, "probe")
        assert first["goal_id"] and first["skipped"] is None

        second = _fire(team, "probe")

        assert second == {"schedule_id": "probe", "goal_id": None, "skipped": "previous_run_active"}
        state = states(team.rt).get("probe")
        assert state.last_skip_reason == "previous_run_active" and state.fire_count == 1
        assert state.last_goal_id == first["goal_id"]
        assert team.rt.goals.load(first["goal_id"]).status is GoalStatus.RUNNING
        llm.gate.set()
        assert team.wait(first["goal_id"]).status is GoalStatus.COMPLETED
        third = _fire(team, "probe")
        assert third["goal_id"] not in (None, first["goal_id"])
        assert states(team.rt).get("probe").fire_count == 2
        llm.gate.set()
        team.wait(third["goal_id"])


def test_p2_schedule_at_throttle_is_skipped_with_budget_throttle(redis_server: RunningServer,
                                                                 tmp_path: Path) -> None:
    with _team(redis_server, tmp_path, OfflineProvider(), budget_monthly=Decimal("10")) as team:
        team.rt.budget.ledger.record(to_micros(Decimal("9.10")), skill="test-spend")
        assert team.rt.budget.standing().level.value == "throttle"

        skipped = _fire(team, "probe")
        urgent = _fire(team, "probe-urgent")

        assert skipped == {"schedule_id": "probe", "goal_id": None, "skipped": "budget_throttle"}
        assert states(team.rt).get("probe").last_skip_reason == "budget_throttle"
        assert urgent["goal_id"] is not None, "P1 still runs at throttle"
        assert team.wait(urgent["goal_id"]).status is GoalStatus.COMPLETED


def test_disabled_schedule_is_skipped_and_enabling_takes_effect_at_the_next_firing(
        redis_server: RunningServer, tmp_path: Path) -> None:
    with _team(redis_server, tmp_path, OfflineProvider()) as team:
        states(team.rt).set_enabled("probe", False)
        assert _fire(team, "probe")["skipped"] == "disabled"

        states(team.rt).set_enabled("probe", True)
        fired = _fire(team, "probe")

        assert fired["goal_id"] is not None
        assert team.wait(fired["goal_id"]).status is GoalStatus.COMPLETED


def test_concurrent_firings_of_one_schedule_start_one_goal(redis_server: RunningServer,
                                                           tmp_path: Path) -> None:
    with _team(redis_server, tmp_path, OfflineProvider(), worker=False) as team:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: fire(team.rt, "probe", starter(team.app, team.rt), manual=True), range(4)))

        started = [r.goal_id for r in results if r.goal_id]
        assert len(started) == 1 and team.rt.goals.ids() == started
        assert sorted(str(r.skipped) for r in results if r.skipped) == ["previous_run_active"] * 3
        state = states(team.rt).get("probe")
        assert state.fire_count == 1 and state.skip_count == 3
