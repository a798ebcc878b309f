"""The plain progress lines: a view that falls behind the goal still tells its story in order."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from marketing_team.cli.live_panel import LiveView
from marketing_team.cli.live_view import PlainView
from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import (
    Category,
    Goal,
    GoalStatus,
    PhaseSpec,
    Plan,
    Priority,
    TaskStatus,
)
from marketing_team.domain.values import new_id


def _goal() -> Goal:
    plan = Plan(phases=(PhaseSpec(name="audit", skills=("seo-audit",)),
                        PhaseSpec(name="write", skills=("copywriting",)),
                        PhaseSpec(name="edit", skills=("copy-editing",))), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Grow", category=Category.CONTENT, priority=Priority.P1,
                plan=plan, status=GoalStatus.RUNNING, tasks=build_tasks(goal_id, plan, Priority.P1, "x"))


def _move(goal: Goal, index: int, *steps: TaskStatus) -> None:
    for status in steps:
        goal.tasks[index].move(status)


def test_a_view_behind_the_goal_prints_each_phase_before_the_next(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a goal whose first step was approved and whose second is drafting already
    goal = _goal()
    audit, write = goal.tasks[0], goal.tasks[1]
    _move(goal, 0, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.APPROVED)
    goal.current_phase = 1
    _move(goal, 1, TaskStatus.IN_PROGRESS)
    view = PlainView()

    # When the view reads the first step's events only now, then the second step's start
    view.update(goal, {"event": "task_reviewed", "task_id": audit.id, "skill": audit.skill,
                       "status": "approved"})
    view.update(goal, {"event": "phase_done", "phase": 1, "next": "dispatch"})
    view.update(goal, {"event": "task_started", "task_id": write.id, "skill": write.skill})

    # Then phase 1 ends before phase 2 is said to start
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["[phase 1/3] seo-audit: approved", "phase 1/3 done",
                     "[phase 2/3] copywriting: drafting"]


def test_a_view_that_missed_every_event_still_shows_what_is_running(
        capsys: pytest.CaptureFixture[str]) -> None:
    goal = _goal()
    _move(goal, 0, TaskStatus.IN_PROGRESS)

    PlainView().update(goal, None)  # a quiet look: no event at all

    assert capsys.readouterr().err.splitlines() == ["[phase 1/3] seo-audit: drafting"]


def test_a_step_whose_start_the_view_read_late_is_still_said_to_start(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Given the first step drafted and approved before the view read its start
    goal = _goal()
    audit = goal.tasks[0]
    _move(goal, 0, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.APPROVED)

    PlainView().update(goal, {"event": "task_started", "task_id": audit.id, "skill": audit.skill,
                              "revision": 0})

    assert capsys.readouterr().err.splitlines() == ["[phase 1/3] seo-audit: drafting"]


def test_a_step_in_review_when_the_view_read_its_start_is_said_to_start_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    goal = _goal()
    audit = goal.tasks[0]
    _move(goal, 0, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED)
    view = PlainView()

    view.update(goal, {"event": "task_started", "task_id": audit.id, "skill": audit.skill})
    view.update(goal, None)

    assert capsys.readouterr().err.splitlines() == ["[phase 1/3] seo-audit: drafting"]


def test_the_live_panel_shows_a_hostile_skill_name_as_plain_text() -> None:
    # Given a running step of a skill whose name (a catalog override's folder) holds an OSC title
    # change and rich markup that would become a terminal hyperlink (OSC 8)
    hostile = "x\x1b]0;pwned\x07[link=http://evil.test]click"
    plan = Plan(phases=(PhaseSpec(name="write", skills=(hostile,)),), source="routing")
    goal = Goal(id=new_id("goal"), description="Grow", category=Category.CONTENT,
                priority=Priority.P1, plan=plan, status=GoalStatus.RUNNING,
                tasks=build_tasks(new_id("goal"), plan, Priority.P1, "x"))
    _move(goal, 0, TaskStatus.IN_PROGRESS)
    view = LiveView()

    # When its panel is drawn on a terminal
    try:
        view.update(goal, None)
        screen = io.StringIO()
        Console(file=screen, force_terminal=True, width=120).print(view._panel(goal))
    finally:
        view.close()

    # Then the name is text: no escape sequence, the markup shown as written
    assert "\x1b]" not in screen.getvalue()
    assert "x[link=http://evil.test]click" in screen.getvalue()
