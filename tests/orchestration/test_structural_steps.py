"""A step whose review is structural only (a P3 goal's) is one task: the draft's own task reviews it.

No model reviews it, so a review task of its own would only add a queue hop, a gate and a claim
to every step; the review's decision, document and learning are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import signals
from celery.canvas import Signature

from marketing_team.director import skill_run
from marketing_team.director.launch import plan_goal
from marketing_team.domain.goal import GoalStatus, Priority, TaskStatus
from marketing_team.orchestration import canvas, dispatch
from marketing_team.testing.processes import wait_for
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team

SHORT = "Too short."


@pytest.fixture
def published() -> Iterator[list[str]]:
    """The name of every task message published while the test runs."""
    names: list[str] = []

    def seen(sender: str | None = None, **_: object) -> None:
        names.append(str(sender))

    signals.before_task_publish.connect(seen, weak=False)
    yield names
    signals.before_task_publish.disconnect(seen)


def test_a_p3_goal_reviews_each_draft_in_its_own_task(team: Team, published: list[str]) -> None:
    goal = team.goal("Increase signup conversion by 20%", priority=Priority.P3)
    done = team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert all(t.status is TaskStatus.APPROVED for t in done.tasks)
    # The last phase's join is published after the task that settled the goal returns
    wait_for(lambda: published.count("director.advance_goal") >= len(done.plan.phases), 10,
             "every phase's join to be published")
    assert "director.review" not in published
    stored = team.rt.documents.all(goal.id)
    for task in done.tasks:
        assert task.last_review is not None and task.last_review.reviewer == "structural"
        assert f"reviews/{str(task.output).removesuffix('.md')}.review.md" in stored
        learned = team.rt.learnings.for_skill(task.skill, offline=team.rt.offline)
        assert any(learning.goal_id == goal.id for learning in learned), task.skill


def test_a_p3_draft_the_review_sends_back_is_revised_as_one_task_and_the_pipeline_continues(
        scripted_team: Team, scripted: ScriptedLLM, published: list[str]) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), SHORT, times=1)
    goal = scripted_team.pipeline("Copywriting Review Chain", priority=Priority.P3)
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.revision == 1 and copy.status is TaskStatus.APPROVED
    assert "director.review" not in published
    assert scripted.count(lambda c: c.is_review()) == 0


def test_a_p3_step_is_its_draft_alone_and_a_p1_step_chains_a_review(idle: Team) -> None:
    for priority, names in ((Priority.P3, ["skills."]), (Priority.P1, ["skills.", "director.review"])):
        goal, _ = plan_goal(idle.rt, "Write a blog post about our launch", priority)
        step = canvas.step_signature(idle.app, goal.tasks[0], goal.run)
        members: list[Signature] = list(step.tasks) if hasattr(step, "tasks") else [step]
        assert [m.task.split(".")[0] + "." for m in members[:1]] + [m.task for m in members[1:]] == names
        assert members[0].kwargs.get("reviews", False) is (priority is Priority.P3)


def test_a_p3_draft_recorded_by_a_worker_that_died_before_reviewing_it_is_reviewed_by_the_redelivery(
        idle: Team) -> None:
    goal, _ = plan_goal(idle.rt, "Write a blog post about our launch", Priority.P3)
    idle.rt.goals.create(goal)
    goal = dispatch.start(idle.app, idle.rt, goal.id)
    first = goal.tasks[0]
    # A worker drafted the step and recorded it, then died before its review
    claimed = skill_run.claim(idle.rt, goal.id, first.id, goal.run)
    skill_run.run_skill(idle.rt, goal.id, first.id, "offline", read=claimed.goal)
    skill_run.release(idle.rt, claimed)
    assert idle.rt.goals.load(goal.id).task(first.id).status is TaskStatus.COMPLETED

    # When its message is delivered again
    canvas.skill_signature(idle.app, first, goal.run, reviews=True).apply()

    # Then the copy reviews the recorded draft instead of drafting again
    after = idle.rt.goals.load(goal.id).task(first.id)
    assert after.status is TaskStatus.APPROVED and after.revision == 0
    assert after.last_review is not None and after.last_review.reviewer == "structural"
