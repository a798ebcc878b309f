"""A goal's cost is what the ledger recorded for it, also when two copies of a step both paid.

A worker frozen past its heartbeat (SIGSTOP, a VM pause) and the worker that took its step over
both call the model; the ledger settles both replies (each was billed). The goal's cost, shown by
`mtctl goals show` and its summary, must count both as well, not only the copy that recorded first.
"""

from __future__ import annotations

import threading

from budget_support import offline_answer

from marketing_team.budget.policy import to_usd
from marketing_team.director.launch import build_tasks
from marketing_team.director.runtime import Runtime
from marketing_team.director.skill_run import run_skill
from marketing_team.domain.goal import Category, Goal, PhaseSpec, Plan, Priority, TaskStatus
from marketing_team.domain.values import new_id
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest


def _late(request: RecordedRequest) -> FakeReply:
    good = offline_answer(request)
    return FakeReply(content=good.content, input_tokens=good.input_tokens,
                     output_tokens=good.output_tokens, delay_s=0.3)


def test_two_copies_of_a_step_that_each_paid_both_count_in_the_goals_cost(
        rt: Runtime, fake: FakeAnthropic) -> None:
    fake.responder = _late
    plan = Plan(source="routing", phases=(PhaseSpec(name="1. audit", skills=("seo-audit",)),))
    goal_id = new_id("goal")
    goal = Goal(id=goal_id, description="Recover organic traffic", category=Category.CONTENT,
                priority=Priority.P1, plan=plan, provider=rt.llm.name,
                tasks=build_tasks(goal_id, plan, Priority.P1, "Recover organic traffic"))
    rt.goals.create(goal)
    task_id = goal.tasks[0].id
    rt.goals.update(goal_id, lambda g: g.task(task_id).move(TaskStatus.IN_PROGRESS))

    # When the step's lease holder and the worker that took it over both run it
    copies = [threading.Thread(target=run_skill, args=(rt, goal_id, task_id, rt.model_for("sonnet")))
              for _ in range(2)]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join(30)

    # Then both replies were billed, and the goal (and its step) count both, as the ledger does
    assert len(fake.served) == 2
    done = rt.goals.load(goal_id)
    ledger = to_usd(rt.budget.ledger.goal_spent(goal_id))
    assert done.cost_usd == ledger > 0
    assert done.task(task_id).cost_usd == ledger
