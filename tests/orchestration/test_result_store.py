"""Task results: stored in one round trip, and a stored success is never overwritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
import redis.connection
from celery import Celery, signals, states
from celery.result import AsyncResult

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import Category, Goal, GoalStatus, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.orchestration.app import build_app
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def _app(server: RunningServer, tmp_path: Path) -> Celery:
    settings = load_settings(_env_file=None, redis_url=server.url, workspace_dir=tmp_path)
    return build_app(settings, broker_url=server.broker_url)


def test_a_result_is_stored_with_its_expiry_and_reads_back(redis_server: RunningServer,
                                                           redis_client: redis.Redis,
                                                           tmp_path: Path) -> None:
    app = _app(redis_server, tmp_path)
    app.backend.store_result("t-1", {"task_id": "task-1", "status": "completed"}, states.SUCCESS)
    stored = AsyncResult("t-1", app=app)
    assert (stored.state, stored.result) == (states.SUCCESS, {"task_id": "task-1", "status": "completed"})
    assert 0 < redis_client.ttl(app.backend.get_key_for_task("t-1")) <= app.conf.result_expires


def test_a_stored_success_is_kept_when_a_late_copy_stores_another_state(
        redis_server: RunningServer, tmp_path: Path) -> None:
    app = _app(redis_server, tmp_path)
    app.backend.store_result("t-2", None, states.STARTED)
    app.backend.store_result("t-2", {"decision": "approve"}, states.SUCCESS)  # a start is overwritten
    app.backend.store_result("t-2", RuntimeError("a lost copy"), states.FAILURE)
    app.backend.store_result("t-2", None, states.RETRY)
    stored = AsyncResult("t-2", app=app)
    assert (stored.state, stored.result) == (states.SUCCESS, {"decision": "approve"})


def test_storing_a_result_is_one_round_trip(redis_server: RunningServer, tmp_path: Path,
                                            round_trips: list[bytes]) -> None:
    app = _app(redis_server, tmp_path)
    app.backend.store_result("t-3", 1, states.SUCCESS)  # connects, and loads the script once
    round_trips.clear()
    for n in range(5):
        app.backend.store_result(f"t-4-{n}", n, states.SUCCESS)
    assert len(round_trips) == 5


@pytest.mark.parametrize("result", [
    {"draft": "a headline cut mid-emoji \ud83d"},  # a lone surrogate: Python's JSON reads it, cjson does not
    "\udc80",
])
def test_a_success_the_script_cannot_decode_is_still_kept(redis_server: RunningServer, tmp_path: Path,
                                                           result: Any) -> None:
    app = _app(redis_server, tmp_path)
    task_id = f"t-5-{tmp_path.name}"
    app.backend.store_result(task_id, result, states.SUCCESS)
    app.backend.store_result(task_id, RuntimeError("a lost copy"), states.FAILURE)
    stored = AsyncResult(task_id, app=app)
    assert (stored.state, stored.result) == (states.SUCCESS, result)


def test_a_compressed_success_is_kept(redis_server: RunningServer, tmp_path: Path) -> None:
    app = _app(redis_server, tmp_path)
    app.conf.result_compression = "zlib"
    app.backend.store_result("t-6", {"decision": "approve"}, states.SUCCESS)
    app.backend.store_result("t-6", RuntimeError("a lost copy"), states.FAILURE)
    stored = AsyncResult("t-6", app=app)
    assert (stored.state, stored.result) == (states.SUCCESS, {"decision": "approve"})


def test_a_failure_expires_after_result_failure_expires(redis_server: RunningServer,
                                                        redis_client: redis.Redis,
                                                        tmp_path: Path) -> None:
    app = _app(redis_server, tmp_path)
    app.conf.result_failure_expires = 60
    app.backend.store_result("t-7", RuntimeError("boom"), states.FAILURE)
    assert 0 < redis_client.ttl(app.backend.get_key_for_task("t-7")) <= 60
    app.backend.store_result("t-8", 1, states.SUCCESS)
    assert redis_client.ttl(app.backend.get_key_for_task("t-8")) > 60


def test_a_chord_publish_clears_its_counter_and_sets_its_size_in_one_round_trip(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path,
        round_trips: list[bytes]) -> None:
    app = _app(redis_server, tmp_path)
    backend = app.backend
    counter, size = backend.get_key_for_group("g-1", ".c"), backend.get_key_for_group("g-1", ".s")
    backend.set_chord_size("g-0", 2)  # connects
    redis_client.set(counter, 3)  # the counter of an earlier application of the same chord
    round_trips.clear()
    backend.set_chord_size("g-1", 4)
    assert len(round_trips) == 1
    assert redis_client.get(counter) is None and redis_client.get(size) == b"4"
    assert 0 < redis_client.ttl(size) <= backend.chord_expires  # as Celery sets it


def test_a_sequential_phase_stores_no_task_result_and_a_parallel_phase_stores_each_member(
        team: Team, redis_client: redis.Redis) -> None:
    """Nobody reads a chained task's result (the chain carries what comes next, our own store
    holds the work), so storing it only cost a round trip per task; a chord's members and join
    keep theirs, which Celery's chord needs."""
    published: list[tuple[str, str, str]] = []  # (task name, message id, our task id)

    def seen(sender: str | None = None, headers: dict[str, Any] | None = None,
             body: Any = None, **_: object) -> None:
        args = body[0] if body else ()
        published.append((str(sender), str((headers or {}).get("id")), str(args[1]) if len(args) > 1 else ""))

    plan = Plan(phases=(PhaseSpec(name="research", skills=("seo-audit", "content-strategy")),
                        PhaseSpec(name="pages", skills=("page-cro", "form-cro"), parallel=True)),
                source="routing")
    goal_id = new_id("goal")
    goal = Goal(id=goal_id, description="Increase signup conversion by 20%", category=Category.OPTIMIZATION,
                priority=Priority.P1, plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, "test"))
    signals.before_task_publish.connect(seen, weak=False)
    try:
        done = team.wait(team.launch(goal).id)
    finally:
        signals.before_task_publish.disconnect(seen)
    assert done.status is GoalStatus.COMPLETED, done.status_reason

    phase_of = {task.id: task.phase_index for task in done.tasks}
    steps = [(name, message) for name, message, ours in published
             if name.startswith("skills.") or name == "director.review"]
    sequential = [m for name, m in steps if phase_of[_ours(published, m)] == 0]
    parallel = [m for name, m in steps if phase_of[_ours(published, m)] == 1]
    assert len(sequential) == 4 and len(parallel) == 4  # a draft and a review per skill
    backend = team.app.backend
    # The last member settled the goal in its body; Celery stores its result just after
    wait_for(lambda: all(redis_client.exists(backend.get_key_for_task(m)) for m in parallel), 10,
             "the parallel phase's results")
    assert [m for m in sequential if redis_client.exists(backend.get_key_for_task(m))] == []


def _ours(published: list[tuple[str, str, str]], message_id: str) -> str:
    return next(ours for _, m, ours in published if m == message_id)
