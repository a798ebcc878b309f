"""Celery runs durably: acks late, prefetch 1, priorities, director queue, limits, watchdog."""

from __future__ import annotations

import threading
from pathlib import Path

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.goal import Goal, GoalStatus, Priority
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def test_config_is_durable_and_visibility_exceeds_the_hard_limit() -> None:
    settings = load_settings(_env_file=None, soft_time_limit_s=100, hard_time_limit_s=140)
    conf = build_app(settings, broker_url="redis://127.0.0.1:6379/0").conf

    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 140)
    for options in (conf.broker_transport_options, conf.result_backend_transport_options):
        assert options["visibility_timeout"] > 2 * 140  # above the hard limit and the watchdog timer
    assert conf.broker_transport_options["queue_order_strategy"] == "priority"
    assert conf.task_routes["director.*"]["queue"] == "director"


def test_priorities_p0_is_consumed_before_p3(redis_server: RunningServer, tmp_path: Path) -> None:
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    seen: list[str] = []
    lock = threading.Lock()

    @team.app.task(name="test.record", shared=False)  # type: ignore[untyped-decorator]
    def record(label: str) -> None:
        with lock:
            seen.append(label)

    try:
        # Given a backlog published while no worker runs: low priority first
        for n in range(5):
            record.apply_async((f"P3-{n}",), priority=Priority.P3.broker_priority, queue="skills")
        for n in range(5):
            record.apply_async((f"P0-{n}",), priority=Priority.P0.broker_priority, queue="skills")
        # When one single-threaded worker drains it
        with InProcessWorker(team.app, concurrency=1):
            wait_for(lambda: len(seen) == 10, 30, "the backlog")
        # Then every P0 task ran before any P3 task
        assert [label[:2] for label in seen] == ["P0"] * 5 + ["P3"] * 5
    finally:
        team.stop()


def test_watchdog_fails_a_goal_that_made_no_progress_with_a_reason(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)
        dispatch.start(team.app, team.rt, goal.id)
        team.app.control.purge()  # the phase's messages are lost: nothing will ever run them
        stuck: Goal = team.rt.goals.load(goal.id)

        # The timer armed at start fires with the state it saw; nothing moved since.
        assert dispatch.watch(team.app, team.rt, goal.id, stuck.updated_at.isoformat()) == "failed"

        failed = team.rt.goals.load(goal.id)
        assert failed.status is GoalStatus.FAILED
        assert "watchdog: no progress" in failed.status_reason
    finally:
        team.stop()


def test_watchdog_rearms_while_the_goals_work_waits_in_the_queue(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle", Priority.P3)
        team.rt.goals.create(goal)
        dispatch.start(team.app, team.rt, goal.id)  # queued behind busier work, not lost
        stuck = team.rt.goals.load(goal.id)
        assert dispatch.watch(team.app, team.rt, goal.id, stuck.updated_at.isoformat()) == "rearmed"
    finally:
        team.stop()


def test_watchdog_rearms_while_a_goal_is_progressing(redis_server: RunningServer, tmp_path: Path) -> None:
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)
        dispatch.start(team.app, team.rt, goal.id)
        assert dispatch.watch(team.app, team.rt, goal.id, "an older state") == "rearmed"
        assert team.rt.goals.load(goal.id).status is GoalStatus.RUNNING
    finally:
        team.stop()
