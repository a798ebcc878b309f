"""The sweeper keeps every goal moving: lost messages, silent workers, parked steps, unpublished goals.

A team without a worker: the test runs one sweep at a time and reads the queues. Time passing is
played by moving stored timestamps back (the clock is a process edge).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from marketing_team.budget.policy import to_micros
from marketing_team.director import flow, skill_run
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.phases import Move
from marketing_team.domain.goal import Goal, GoalStatus, Priority, TaskStatus
from marketing_team.domain.schedule import SkipReason
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import dispatch, sweeper
from marketing_team.store.goals import EXPIRING, TOUCHED, status_key
from marketing_team.store.leases import DUE, keeper
from marketing_team.store.outbox import OUTBOX
from marketing_team.store.parked import PARKED, ParkedStep, ParkedWork
from marketing_team.testing.invariants import unaccounted_goals
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.triggers.schedules import skip_reason


@pytest.fixture
def idle(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team without a worker, $10 a month."""
    if not redis_server.running:
        redis_server.restart()
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False,
                budget_monthly=Decimal("10")).start()
    yield team
    team.stop()


def _queued(client: redis.Redis) -> list[str]:
    """Our ids in every queued message, as `task-name:task-id`."""
    found = []
    for key in client.scan_iter("*"):
        name = key.decode()
        if client.type(key) != b"list" or not name.startswith(("skills", "director")):
            continue
        for raw in client.lrange(key, 0, -1):
            headers = json.loads(raw)["headers"]
            found.append(f"{headers['task']}:{headers.get('argsrepr')}")
    return found


def _published(team: Team) -> Goal:
    goal = plan_pipeline(team.rt, "SEO Cycle")
    team.rt.goals.create(goal)
    dispatch.start(team.app, team.rt, goal.id)
    return team.rt.goals.load(goal.id)


def _sweep(team: Team) -> sweeper.SweepReport:
    """One pass that also checks for stuck goals (a live sweeper does that every 30 s)."""
    return sweeper.sweep(team.app, team.rt, stuck_every_s=0)


def _quiet_for_long(team: Team, goal_id: str) -> None:
    team.rt.redis.zadd(TOUCHED, {goal_id: time.time() - team.settings.hard_time_limit_s * 3})


def test_a_goal_whose_messages_were_lost_is_republished_then_failed_naming_what_is_stuck(idle: Team) -> None:
    goal = _published(idle)
    assert unaccounted_goals(idle.rt) == []
    idle.app.control.purge()  # the phase's messages are lost: nothing will ever run them
    assert unaccounted_goals(idle.rt) == [goal.id]

    republished = []
    for _ in range(sweeper.MAX_REPUBLISH):
        _quiet_for_long(idle, goal.id)
        republished.append(_sweep(idle).republished)
        assert any(goal.tasks[0].id in line for line in _queued(idle.rt.redis))
        assert unaccounted_goals(idle.rt) == []
        idle.app.control.purge()  # lost again
    _quiet_for_long(idle, goal.id)
    last = _sweep(idle)

    assert republished == [1] * sweeper.MAX_REPUBLISH and last.stuck_failed == 1
    failed = idle.rt.goals.load(goal.id)
    assert failed.status is GoalStatus.FAILED
    assert "no progress" in failed.status_reason and goal.tasks[0].skill in failed.status_reason


def test_a_goal_whose_message_waits_behind_a_backlog_is_left_alone(idle: Team) -> None:
    goal = _published(idle)  # its phase's message is queued; no worker has taken it yet
    _quiet_for_long(idle, goal.id)

    report = _sweep(idle)

    assert (report.republished, report.stuck_failed) == (0, 0)
    assert idle.rt.goals.load(goal.id).status is GoalStatus.RUNNING


def test_a_goal_inside_a_long_call_is_left_alone(idle: Team) -> None:
    goal = _published(idle)
    claimed = skill_run.claim(idle.rt, goal.id, goal.tasks[0].id, goal.run)  # its lease is renewed
    _quiet_for_long(idle, goal.id)

    report = _sweep(idle)

    assert (report.republished, report.stuck_failed) == (0, 0)
    skill_run.release(idle.rt, claimed)


def test_a_lapsed_lease_is_taken_over_and_its_task_republished_once(idle: Team) -> None:
    goal = _published(idle)
    idle.app.control.purge()
    task = goal.tasks[0]
    claimed = skill_run.claim(idle.rt, goal.id, task.id, goal.run)
    assert claimed.lease is not None
    keeper(idle.rt.leases).drop(claimed.lease)  # its holder dies: nobody renews it any more
    idle.rt.redis.zadd(DUE, {claimed.lease.key: 1})  # its last heartbeat is long past

    first = _sweep(idle)
    second = _sweep(idle)

    assert (first.taken_over, second.taken_over) == (1, 0)
    assert sum(task.id in line for line in _queued(idle.rt.redis)) == 1
    assert idle.rt.goals.load(goal.id).task(task.id).status is TaskStatus.IN_PROGRESS
    again = skill_run.claim(idle.rt, goal.id, task.id, goal.run)  # the republished copy may run it
    assert again.action == "run"
    skill_run.release(idle.rt, again)


def test_a_parked_step_waits_while_the_level_denies_it_and_returns_when_it_allows(idle: Team) -> None:
    goal = plan_pipeline(idle.rt, "SEO Cycle", Priority.P2)
    idle.rt.goals.create(goal)
    dispatch.start(idle.app, idle.rt, goal.id)
    idle.app.control.purge()
    idle.rt.budget.ledger.record(to_micros(Decimal("9.10")))  # throttle: P2 waits
    parked = ParkedWork(idle.rt.redis)
    parked.park(ParkedStep(goal.id, goal.tasks[0].id, 0), 0)

    waiting = _sweep(idle)
    assert waiting.unparked == 0 and parked.count() == 1 and _queued(idle.rt.redis) == []

    idle.reconfigure(budget_monthly=Decimal("20"))  # the operator raises the budget
    idle.rt.redis.zadd(PARKED, {ParkedStep(goal.id, goal.tasks[0].id, 0).member(): 1})  # due now
    back = _sweep(idle)

    assert back.unparked == 1 and parked.count() == 0
    assert any(goal.tasks[0].id in line for line in _queued(idle.rt.redis))


def test_a_goal_planned_but_never_published_is_failed_and_frees_its_schedule(idle: Team) -> None:
    goal = plan_pipeline(idle.rt, "SEO Cycle")
    idle.rt.goals.create(goal)  # the process that planned it died before publishing
    idle.rt.schedules.record_fire("weekly-seo", goal.id)
    created = int((time.time() - idle.settings.heartbeat_timeout_s * 5) * 1000)
    idle.rt.redis.zadd(status_key(GoalStatus.PLANNED), {goal.id: created})
    blocked = skip_reason(enabled=True, previous=idle.rt.goals.load(goal.id).status,
                          budget_level_denying=None)
    assert blocked is SkipReason.PREVIOUS_RUN_ACTIVE

    report = _sweep(idle)

    failed = idle.rt.goals.load(goal.id)
    assert report.planned_failed == 1 and failed.status is GoalStatus.FAILED
    assert "never published" in failed.status_reason and f"goals resume {goal.id}" in failed.status_reason
    assert skip_reason(enabled=True, previous=failed.status, budget_level_denying=None) is None


def test_only_one_worker_sweeps_at_a_time(idle: Team) -> None:
    idle.rt.redis.set(sweeper.LOCK, "another worker", ex=30)

    assert _sweep(idle).as_json() == sweeper.SweepReport().as_json()
    assert idle.rt.redis.get(sweeper.LOCK) == b"another worker"


def test_goals_whose_retention_ended_leave_the_indexes_even_when_no_new_goal_arrives(idle: Team) -> None:
    goal = _published(idle)
    idle.rt.goals.update(goal.id, lambda g: setattr(g, "status", GoalStatus.COMPLETED))
    idle.rt.redis.delete(f"mt:goal:{goal.id}:state")  # expired, as Redis does after the retention
    idle.rt.redis.zadd(EXPIRING, {goal.id: int(time.time()) - 1})

    _sweep(idle)

    assert goal.id not in idle.rt.goals.ids(limit=100)
    assert idle.rt.goals.counts()[GoalStatus.COMPLETED] == 0


def test_a_phase_claimed_by_a_process_that_died_before_publishing_it_is_published_by_the_sweeper(
        idle: Team) -> None:
    goal = _published(idle)
    idle.app.control.purge()
    task, model = goal.tasks[0], idle.rt.model_for("sonnet")
    claimed = skill_run.claim(idle.rt, goal.id, task.id, goal.run)
    skill_run.run_skill(idle.rt, goal.id, task.id, model)
    skill_run.release(idle.rt, claimed)
    _, move, _ = flow.review_task(idle.rt, goal.id, task.id, model)
    assert move is Move.PUBLISH  # the next phase is this process's to publish, and it dies here
    assert _queued(idle.rt.redis) == []
    assert unaccounted_goals(idle.rt) == []  # the claim itself records the publication it owes
    owed = idle.rt.redis.zrange(OUTBOX, 0, -1)
    idle.rt.redis.zadd(OUTBOX, dict.fromkeys(owed, 1))  # its grace period passed

    report = _sweep(idle)

    assert report.published == 1
    next_task = idle.rt.goals.load(goal.id).phase_tasks(1)[0]
    assert any(next_task.id in line for line in _queued(idle.rt.redis))
    assert _sweep(idle).published == 0 and idle.rt.redis.zcard(OUTBOX) == 0


def test_a_publication_that_went_out_leaves_nothing_owed(idle: Team) -> None:
    _published(idle)

    assert idle.rt.redis.zcard(OUTBOX) == 0


def test_a_sweeper_that_dies_between_takeover_and_republish_leaves_the_step_to_the_next_sweep(
        idle: Team) -> None:
    goal = _published(idle)
    idle.app.control.purge()
    task = goal.tasks[0]
    claimed = skill_run.claim(idle.rt, goal.id, task.id, goal.run)
    assert claimed.lease is not None
    keeper(idle.rt.leases).drop(claimed.lease)
    idle.rt.redis.zadd(DUE, {claimed.lease.key: 1})
    lapsed = idle.rt.leases.lapsed()

    taken = idle.rt.leases.take_over(lapsed[0])  # ...and this sweeper dies before republishing
    assert taken is not None
    keeper(idle.rt.leases).drop(taken)  # nobody renews the sweeper's hold either
    idle.rt.redis.zadd(DUE, {claimed.lease.key: 1})  # a heartbeat timeout later
    report = _sweep(idle)

    assert report.taken_over == 1
    assert sum(task.id in line for line in _queued(idle.rt.redis)) == 1


def test_a_stuck_goal_is_found_behind_any_number_of_goals_waiting_for_the_budget(idle: Team) -> None:
    for _ in range(sweeper.BATCH + 5):
        waiting = _published(idle)
        idle.rt.goals.update(waiting.id, lambda g: setattr(g, "status", GoalStatus.WAITING_BUDGET))
        _quiet_for_long(idle, waiting.id)
    stuck = _published(idle)
    idle.app.control.purge()
    _quiet_for_long(idle, stuck.id)

    report = _sweep(idle)

    assert report.republished == 1
    assert any(stuck.tasks[0].id in line for line in _queued(idle.rt.redis))


@pytest.mark.parametrize("key, kind, value", [
    (PARKED, "zset", {"not json": 1}),
    (PARKED, "zset", {'{"goal_id": "goal-20261129-aaaaaa"}': 1}),
    ("mt:lease:skill:seo-audit-20261129-aaaaaa:0", "hash", {"token": "t", "run": "abc"}),
])
def test_one_malformed_record_never_stops_the_sweeper(idle: Team, key: str, kind: str,
                                                      value: dict[str, object]) -> None:
    if kind == "zset":
        idle.rt.redis.zadd(key, value)  # type: ignore[arg-type]
    else:
        idle.rt.redis.hset(key, mapping=value)  # type: ignore[arg-type]
        idle.rt.redis.zadd(DUE, {key: 1})
    goal = _published(idle)
    idle.app.control.purge()
    _quiet_for_long(idle, goal.id)

    report = _sweep(idle)  # the bad record is skipped; the rest of the pass still runs

    assert report.republished == 1


def test_a_sweep_only_ever_releases_its_own_lock(idle: Team) -> None:
    idle.rt.redis.set(sweeper.LOCK, "a later sweeper", ex=30)

    sweeper.release_lock(idle.rt, "this sweeper's token")

    assert idle.rt.redis.get(sweeper.LOCK) == b"a later sweeper"
