"""The Director's review: scores decide, revisions carry the reviewer's words, escalations reach a person."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marketing_team.director import human_review, phases
from marketing_team.director.review import overall_score, verdict_for, weights_for
from marketing_team.domain.goal import GoalStatus, TaskStatus
from marketing_team.domain.review import SCORE_DIMENSIONS, Verdict
from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.decisions import Continuation, decide_review
from marketing_team.testing.scripted import Call, ScriptedLLM
from marketing_team.testing.team import Team

INSTRUCTION = "Quantify the lift you expect from each change"


def _review(score: float, verdict: str = "APPROVE") -> dict[str, object]:
    return {"verdict": verdict, "scores": dict.fromkeys(SCORE_DIMENSIONS, score),
            "findings": [{"severity": "major", "section": "Page Copy", "description": "Vague claims"}],
            "revision_requests": [INSTRUCTION]}


def _copy_review(call: Call) -> bool:
    return call.is_review("copywriting")


@pytest.mark.parametrize("score, model_verdict, expected", [
    (9.0, Verdict.APPROVE, Verdict.APPROVE),
    (6.9, Verdict.APPROVE, Verdict.REVISE),
    (3.9, Verdict.APPROVE, Verdict.REJECT),
    (8.0, Verdict.REVISE, Verdict.REVISE),
])
def test_review_scores_set_the_verdict(score: float, model_verdict: Verdict, expected: Verdict) -> None:
    overall = overall_score(dict.fromkeys(SCORE_DIMENSIONS, score), weights_for("creative"))
    assert verdict_for(overall, model_verdict) is expected


def test_review_weights_differ_by_squad() -> None:
    scores = {**dict.fromkeys(SCORE_DIMENSIONS, 5.0), "creativity": 10.0}
    assert overall_score(scores, weights_for("creative")) > overall_score(scores, weights_for("measure"))


def test_review_low_score_revises_with_the_reviewers_instructions_in_the_prompt(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(_copy_review, _review(5.0), times=1)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.revision == 1
    revision_prompt = [c for c in scripted.calls if c.is_skill("copywriting")][1].prompt
    assert INSTRUCTION in revision_prompt and "<previous_draft>" in revision_prompt
    review = scripted_team.rt.documents.get(goal.id, f"reviews/{copy.phase_index + 1:02d}-copywriting.review.md")
    assert review is not None and "overall: 5.0" in review


def test_review_high_score_approves_first_time(scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(_copy_review, _review(9.0), times=1)
    done = scripted_team.wait(scripted_team.pipeline("Copywriting Review Chain").id)

    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.status is TaskStatus.APPROVED and copy.revision == 0
    assert copy.last_review is not None and copy.last_review.overall == 9.0


def test_review_reject_then_reject_escalates_to_the_human_queue(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(_copy_review, _review(2.0, "REJECT"), times=2)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.WAITING_HUMAN
    items = scripted_team.rt.reviews.list(ItemStatus.OPEN)
    assert [(i.goal_id, i.skill, i.reason) for i in items] == [(goal.id, "copywriting", Reason.REJECTED)]


def _pause_on_copywriting(team: Team, scripted: ScriptedLLM) -> str:
    scripted.on(_copy_review, _review(2.0, "REJECT"), times=2)
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.WAITING_HUMAN
    return goal.id


def _continue(team: Team, goal_id: str) -> None:
    phases.reopen(team.rt, goal_id)
    dispatch.start(team.app, team.rt, goal_id)


def test_human_approve_resumes_the_goal_without_rerunning_approved_tasks(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    goal_id = _pause_on_copywriting(scripted_team, scripted)
    item = scripted_team.rt.reviews.list(ItemStatus.OPEN)[0]
    calls_before = scripted.count(lambda c: c.is_skill("marketing-psychology"))

    human_review.human_decision(scripted_team.rt, item.id, ItemStatus.APPROVED)
    _continue(scripted_team, goal_id)
    done = scripted_team.wait(goal_id)

    assert done.status is GoalStatus.COMPLETED
    assert scripted.count(lambda c: c.is_skill("marketing-psychology")) == calls_before == 1
    assert scripted.count(lambda c: c.is_skill("copywriting")) == 2  # no run after the approval
    assert scripted_team.rt.reviews.load(item.id).status is ItemStatus.APPROVED


def test_human_revise_notes_reach_the_skills_next_prompt(scripted_team: Team, scripted: ScriptedLLM) -> None:
    goal_id = _pause_on_copywriting(scripted_team, scripted)
    item = scripted_team.rt.reviews.list(ItemStatus.OPEN)[0]

    human_review.human_decision(scripted_team.rt, item.id, ItemStatus.REVISED, "Lead with the 14-day trial")
    _continue(scripted_team, goal_id)
    done = scripted_team.wait(goal_id)

    assert done.status is GoalStatus.COMPLETED
    last = [c for c in scripted.calls if c.is_skill("copywriting")][-1]
    assert "Lead with the 14-day trial" in last.prompt


def test_human_reject_fails_the_task_and_the_goal_continues(scripted_team: Team, scripted: ScriptedLLM) -> None:
    goal_id = _pause_on_copywriting(scripted_team, scripted)
    item = scripted_team.rt.reviews.list(ItemStatus.OPEN)[0]

    human_review.human_decision(scripted_team.rt, item.id, ItemStatus.REJECTED, "Off brand")
    _continue(scripted_team, goal_id)
    done = scripted_team.wait(goal_id)

    assert done.status is GoalStatus.COMPLETED and "rejected by a reviewer" in done.status_reason
    assert next(t for t in done.tasks if t.skill == "copywriting").status is TaskStatus.FAILED
    assert all(t.status is TaskStatus.APPROVED for t in done.tasks if t.skill != "copywriting")


def test_a_decision_leaves_the_goal_paused_while_an_older_item_of_it_is_open_behind_a_full_page(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    # Given a paused goal with a second, older open item (a cascading failure, say), and more
    # than a page (100) of newer open items of other goals in the queue
    rt = scripted_team.rt
    goal_id = _pause_on_copywriting(scripted_team, scripted)
    [item] = rt.reviews.list(ItemStatus.OPEN)
    older = rt.reviews.new_item(goal_id, Reason.CASCADING_FAILURE, "three failures in a row")
    rt.reviews.save(older.model_copy(update={"created_at": item.created_at - timedelta(days=1)}))
    for n in range(120):
        rt.reviews.save(rt.reviews.new_item(f"goal-20261130-{n:06x}", Reason.REJECTED, f"other {n}"))

    # When a person approves the goal's newer item
    decision = decide_review(scripted_team.app, rt, item.id, ItemStatus.APPROVED)

    # Then the goal waits for the older one: it does not continue behind the person's back
    assert decision.continuation is Continuation.STAYS
    assert rt.goals.load(goal_id).status is GoalStatus.WAITING_HUMAN
