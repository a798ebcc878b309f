"""Messages that come twice (crash before the ack) never lose a phase nor run a task twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.director import flow, human_review, skill_run
from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import dispatch
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


@pytest.fixture
def idle(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team without a worker: the test plays the worker's part by calling the flow itself."""
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    yield team
    team.stop()


def _saved(team: Team) -> Goal:
    goal = plan_pipeline(team.rt, "SEO Cycle")
    team.rt.goals.create(goal)
    return goal


def _approve_phase(team: Team, goal_id: str, index: int) -> None:
    def change(g: Goal) -> None:
        for t in g.phase_tasks(index):
            t.status = TaskStatus.APPROVED

    team.rt.goals.update(goal_id, change)


def test_advance_redelivered_before_the_next_phase_was_published_publishes_it(idle: Team) -> None:
    goal = _saved(idle)
    dispatch.start(idle.app, idle.rt, goal.id)
    _approve_phase(idle, goal.id, 0)

    first = flow.advance(idle.rt, goal.id, 0)  # recorded; the worker dies before publishing
    again = flow.advance(idle.rt, goal.id, 0)  # the redelivered message
    assert (first.action, first.index) == (again.action, again.index) == ("dispatch", 1)

    dispatch.dispatch_phase(idle.app, idle.rt, idle.rt.goals.load(goal.id), 1)
    assert flow.advance(idle.rt, goal.id, 0).action == "noop"  # published once only


def test_second_copy_of_a_running_task_does_not_run_it_again(idle: Team) -> None:
    goal = _saved(idle)
    task = goal.tasks[0]
    assert skill_run.claim(idle.rt, goal.id, task.id).action == "run"

    # A resumed goal publishes the task again while the first copy still runs (live holder).
    idle.rt.redis.set(f"mt:lease:{task.id}:0", "elsewhere:1:1")
    assert skill_run.claim(idle.rt, goal.id, task.id).action == "busy"


def test_resume_of_a_goal_whose_phases_all_ran_settles_it_without_crashing(idle: Team) -> None:
    goal = _saved(idle)

    def all_ran(g: Goal) -> None:
        for t in g.tasks:
            t.status = TaskStatus.APPROVED
        g.current_phase = len(g.plan.phases)
        g.status = GoalStatus.FAILED  # the watchdog failed it after its finish was lost

    idle.rt.goals.update(goal.id, all_ran)
    flow.reopen(idle.rt, goal.id)
    done = dispatch.start(idle.app, idle.rt, goal.id)
    assert done.status is GoalStatus.COMPLETED


def test_cascade_review_item_on_a_failed_task_can_be_decided(idle: Team) -> None:
    goal = _saved(idle)
    task = goal.tasks[0]

    def failed(g: Goal) -> None:
        g.task(task.id).status = TaskStatus.FAILED

    idle.rt.goals.update(goal.id, failed)
    item = idle.rt.reviews.new_item(goal.id, Reason.CASCADING_FAILURE, "3 failures",
                                    task_id=task.id, skill=task.skill)
    idle.rt.reviews.save(item)
    decided = human_review.human_decision(idle.rt, item.id, ItemStatus.APPROVED)
    assert decided.status is ItemStatus.APPROVED
    assert idle.rt.goals.load(goal.id).task(task.id).status is TaskStatus.FAILED
