"""Messages that come twice (crash before the ack) never lose a phase nor run a task twice."""

from __future__ import annotations

from pathlib import Path

from marketing_team import dispatch, flow, runner
from marketing_team.domain import Goal, GoalStatus, TaskStatus
from marketing_team.humanreview import ItemStatus, Reason, ReviewQueue
from marketing_team.launch import plan_pipeline
from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def _idle(server: RunningServer, tmp_path: Path) -> Team:
    return Team(server, tmp_path / "ws", OfflineProvider(), worker=False).start()


def _approve_phase(team: Team, goal_id: str, index: int) -> None:
    def change(g: Goal) -> None:
        for t in g.phase_tasks(index):
            t.status = TaskStatus.APPROVED

    team.rt.goals.update(goal_id, change)


def test_advance_redelivered_before_the_next_phase_was_published_publishes_it(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = _idle(redis_server, tmp_path)
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)
        dispatch.start(team.app, team.rt, goal.id)
        _approve_phase(team, goal.id, 0)

        first = flow.advance(team.rt, goal.id, 0)  # recorded; the worker dies before publishing
        again = flow.advance(team.rt, goal.id, 0)  # the redelivered message
        assert (first.action, first.index) == (again.action, again.index) == ("dispatch", 1)

        dispatch.dispatch_phase(team.app, team.rt, team.rt.goals.load(goal.id), 1)
        assert flow.advance(team.rt, goal.id, 0).action == "noop"  # published once only
    finally:
        team.stop()


def test_second_copy_of_a_running_task_does_not_run_it_again(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = _idle(redis_server, tmp_path)
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)
        task = goal.tasks[0]
        assert runner.claim(team.rt, goal.id, task.id).action == "run"

        # A resumed goal publishes the task again while the first copy still runs (live holder).
        team.rt.redis.set(f"mt:lease:{task.id}:0", "elsewhere:1:1")
        assert runner.claim(team.rt, goal.id, task.id).action == "busy"
    finally:
        team.stop()


def test_resume_of_a_goal_whose_phases_all_ran_settles_it_without_crashing(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = _idle(redis_server, tmp_path)
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)

        def all_ran(g: Goal) -> None:
            for t in g.tasks:
                t.status = TaskStatus.APPROVED
            g.current_phase = len(g.plan.phases)
            g.status = GoalStatus.FAILED  # the watchdog failed it after its finish was lost

        team.rt.goals.update(goal.id, all_ran)
        flow.reopen(team.rt, goal.id)
        done = dispatch.start(team.app, team.rt, goal.id)
        assert done.status is GoalStatus.COMPLETED
    finally:
        team.stop()


def test_cascade_review_item_on_a_failed_task_can_be_decided(
        redis_server: RunningServer, tmp_path: Path) -> None:
    team = _idle(redis_server, tmp_path)
    try:
        goal = plan_pipeline(team.rt, "SEO Cycle")
        team.rt.goals.create(goal)
        task = goal.tasks[0]

        def failed(g: Goal) -> None:
            g.task(task.id).status = TaskStatus.FAILED

        team.rt.goals.update(goal.id, failed)
        item = ReviewQueue(team.rt.workspace).open_item(goal.id, Reason.CASCADING_FAILURE, "3 failures",
                                                         task_id=task.id, skill=task.skill)
        decided = flow.human_decision(team.rt, item.id, ItemStatus.APPROVED)
        assert decided.status is ItemStatus.APPROVED
        assert team.rt.goals.load(goal.id).task(task.id).status is TaskStatus.FAILED
    finally:
        team.stop()
