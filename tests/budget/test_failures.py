"""Failures on a real worker: permanent faults fail at once, a cascade pauses the goal, spend survives restarts."""

from __future__ import annotations

from budget_support import offline_answer, planned_goal

from marketing_team.budget.ledger import month_of
from marketing_team.director import phases
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import GoalStatus, Priority, TaskStatus
from marketing_team.domain.learning import Outcome
from marketing_team.domain.review_item import Reason
from marketing_team.domain.values import utcnow
from marketing_team.orchestration import dispatch
from marketing_team.store.internal_events import recent_internal
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.processes import wait_for
from marketing_team.testing.team import Team

SKILLS = ["copywriting", "social-content", "paid-ads", "cold-email"]


def test_cascade_three_failures_pause_the_goal_and_block_the_pipeline_once(
        paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a model that refuses every request with a permanent error (HTTP 400)
    refuse = FakeReply.error(400, "invalid_request_error")
    fake.responder = lambda request: refuse
    goal = paid_team.launch(planned_goal(paid_team, [SKILLS], Priority.P1, parallel=False))

    # When three tasks in a row fail
    paused = paid_team.wait(goal.id)

    # Then the goal pauses for a person, the fourth task never runs, and each failure taught a lesson
    assert paused.status is GoalStatus.WAITING_HUMAN
    assert paused.status_reason.startswith("cascading failure")
    assert [t.status for t in paused.tasks] == [TaskStatus.FAILED] * 3 + [TaskStatus.PENDING]
    assert all("LLMError" in (t.error or "") for t in paused.tasks[:3])
    assert len(fake.requests) == 3  # no retries for a permanent fault
    failures = [entry for entry in paid_team.rt.learnings.for_skill("copywriting", limit=10)
                if entry.outcome is Outcome.FAILURE]
    assert failures and failures[0].goal_id == goal.id

    # And pipeline_blocked was emitted once (right after the transition it reports), with a
    # human review item
    def emitted() -> list[Event] | None:
        found = [e for e in recent_internal(paid_team.rt.redis) if e.type is EventType.PIPELINE_BLOCKED]
        return found or None

    blocked = wait_for(emitted, 10, "pipeline_blocked")
    assert len(blocked) == 1 and blocked[0].data["goal_id"] == goal.id
    items = paid_team.rt.reviews.list()
    assert [(i.goal_id, i.reason) for i in items] == [(goal.id, Reason.CASCADING_FAILURE)]

    # When the model recovers and the goal is resumed
    fake.responder = offline_answer
    phases.reopen(paid_team.rt, goal.id)
    dispatch.start(paid_team.app, paid_team.rt, goal.id)

    # Then only the unfinished task runs, and no second pipeline_blocked appears
    done = paid_team.wait(goal.id)
    assert done.tasks[3].status is TaskStatus.APPROVED
    assert done.status is GoalStatus.FAILED  # three deliverables are missing for good
    assert len([e for e in recent_internal(paid_team.rt.redis) if e.type is EventType.PIPELINE_BLOCKED]) == 1


def test_transient_fault_retries_the_whole_task_then_succeeds(paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a model overloaded for the first request (the SDK itself does not retry here)
    answers = iter([FakeReply.overloaded(retry_after=0.0)])

    def flaky(request: RecordedRequest) -> FakeReply:
        return next(answers, None) or offline_answer(request)

    fake.responder = flaky
    goal = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P1))

    # When the task retries after its backoff (2 s)
    done = paid_team.wait(goal.id)

    # Then it succeeds, and failures never piled up
    assert done.status is GoalStatus.COMPLETED
    assert done.consecutive_failures == 0
    assert len(fake.requests) == 3  # overloaded, then the skill and its review


def test_restarted_worker_keeps_the_month_s_spend(paid_team: Team, fake: FakeAnthropic) -> None:
    # Given a goal that spent money
    first = paid_team.launch(planned_goal(paid_team, [["copywriting"]], Priority.P1))
    assert paid_team.wait(first.id).status is GoalStatus.COMPLETED
    month = month_of(utcnow())
    spent = paid_team.rt.budget.ledger.month_spent(month)
    assert spent > 0

    # When the worker restarts with a fresh runtime (a new process's view)
    rt = paid_team.reconfigure()

    # Then the spend is still there and the next goal adds to it
    assert rt.budget.ledger.month_spent(month) == spent
    second = paid_team.launch(planned_goal(paid_team, [["paid-ads"]], Priority.P1))
    assert paid_team.wait(second.id).status is GoalStatus.COMPLETED
    assert rt.budget.ledger.month_spent(month) == 2 * spent  # same calls, same prices
