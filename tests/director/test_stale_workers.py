"""A worker that lost its step (frozen past its heartbeat, then woke up) can no longer change it.

Its late draft or review arrives after another worker ran the step to the end: the first stored
answer wins and a decision only applies to the revision it reviewed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from marketing_team.director import flow, skill_run
from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus
from marketing_team.domain.review import SCORE_DIMENSIONS
from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.scripted import Call, ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

OFFLINE = OfflineProvider()


def _review(verdict: str, score: float) -> dict[str, object]:
    return {"verdict": verdict, "scores": dict.fromkeys(SCORE_DIMENSIONS, score), "findings": [],
            "revision_requests": ["Sharpen the headline"] if verdict != "APPROVE" else []}


@pytest.fixture
def quiet(redis_server: RunningServer, tmp_path: Path, scripted: ScriptedLLM) -> Iterator[Team]:
    """A team without a worker: the test plays each worker's steps itself."""
    if not redis_server.running:
        redis_server.restart()
    team = Team(redis_server, tmp_path / "ws", scripted, worker=False).start()
    yield team
    team.stop()


def _goal(team: Team) -> Goal:
    goal = plan_pipeline(team.rt, "Copywriting Review Chain")
    team.rt.goals.create(goal)
    team.rt.goals.update(goal.id, lambda g: setattr(g, "status", g.status.RUNNING))
    return team.rt.goals.load(goal.id)


def _draft(tag: str) -> Callable[[Call], str]:
    """A draft that passes the structural checks, marked so the test can tell whose it is."""

    def write(call: Call) -> str:
        text = OFFLINE.complete(list(call.system), list(call.messages), call.model, call.max_tokens).text
        return f"{text}\n\nWritten by: {tag}\n"

    return write


def _skill(goal: Goal) -> tuple[TaskRecord, Callable[[Call], bool], Callable[[Call], bool]]:
    task = goal.tasks[0]
    return task, (lambda c: c.is_skill(task.skill)), (lambda c: c.is_review(task.skill))


def test_a_late_draft_never_replaces_the_one_another_worker_had_approved(
        quiet: Team, scripted: ScriptedLLM) -> None:
    rt, goal = quiet.rt, _goal(quiet)
    (task, draft, review), model = _skill(goal), quiet.rt.model_for("sonnet")
    skill_run.claim(rt, goal.id, task.id, goal.run)

    def frozen_worker(call: Call) -> str:
        # While this worker is frozen inside its call, the step is taken over and run to the end
        skill_run.run_skill(rt, goal.id, task.id, model)
        flow.review_task(rt, goal.id, task.id, model)
        return _draft("STALE")(call)

    scripted.on(draft, frozen_worker)
    scripted.on(draft, _draft("WINNER"))
    scripted.on(review, _review("APPROVE", 9.0))

    skill_run.run_skill(rt, goal.id, task.id, model)  # the frozen worker wakes up and finishes

    after = rt.goals.load(goal.id).task(task.id)
    assert after.status is TaskStatus.APPROVED and after.output is not None
    stored = rt.documents.get(goal.id, after.output) or ""
    assert "WINNER" in stored and "STALE" not in stored


def test_a_late_approval_of_revision_0_does_not_approve_revision_1(
        quiet: Team, scripted: ScriptedLLM) -> None:
    rt, goal = quiet.rt, _goal(quiet)
    (task, draft, review), model = _skill(goal), quiet.rt.model_for("sonnet")
    scripted.on(draft, _draft("FIRST"))
    skill_run.claim(rt, goal.id, task.id, goal.run)
    skill_run.run_skill(rt, goal.id, task.id, model)

    def frozen_reviewer(call: Call) -> dict[str, object]:
        # Meanwhile another worker reviewed revision 0 (REVISE) and drafted revision 1
        flow.review_task(rt, goal.id, task.id, model)
        claimed = skill_run.claim(rt, goal.id, task.id, goal.run)
        skill_run.run_skill(rt, goal.id, task.id, model)
        skill_run.release(rt, claimed)
        return _review("APPROVE", 9.5)

    scripted.on(review, frozen_reviewer)
    scripted.on(review, _review("REVISE", 6.0))
    scripted.on(draft, _draft("SECOND"))

    flow.review_task(rt, goal.id, task.id, model)  # the frozen reviewer wakes up with APPROVE

    after = rt.goals.load(goal.id).task(task.id)
    assert (after.revision, after.status) == (1, TaskStatus.COMPLETED)  # awaiting its own review
