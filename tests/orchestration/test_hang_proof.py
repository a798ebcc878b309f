"""A goal can never hang: duplicate copies, expired chords, stale callbacks and dead workers.

Each case was reproduced against the release before this one; real worker threads or processes
and a real server throughout, no sleeps (polling with deadlines).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import redis
from celery import signals

from marketing_team.director import human_review, phases
from marketing_team.director.launch import build_tasks
from marketing_team.director.prompts import skill_message, system_blocks
from marketing_team.domain.errors import LLMError
from marketing_team.domain.goal import (
    Category,
    Goal,
    GoalStatus,
    PhaseSpec,
    Plan,
    Priority,
    TaskStatus,
)
from marketing_team.domain.review import SCORE_DIMENSIONS
from marketing_team.domain.review_item import ItemStatus
from marketing_team.domain.values import new_id
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import dispatch
from marketing_team.testing.processes import wait_for
from marketing_team.testing.scripted import Call, ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

OFFLINE = OfflineProvider()


def _draft(call: Call) -> str:
    """What the offline provider writes for this call: a deliverable that passes review."""
    return OFFLINE.complete(list(call.system), list(call.messages), call.model, call.max_tokens).text


def _goal(team: Team, phases: list[list[str]], text: str = "Lift signups") -> Goal:
    plan = Plan(source="routing", phases=tuple(
        PhaseSpec(name=f"{i + 1}. step", skills=tuple(skills), parallel=len(skills) > 1)
        for i, skills in enumerate(phases)))
    goal_id = new_id("goal")
    return Goal(id=goal_id, description=text, category=Category.CONTENT, priority=Priority.P1,
                plan=plan, provider=team.rt.llm.name, catalog_fingerprint=team.rt.catalog.fingerprint,
                tasks=build_tasks(goal_id, plan, Priority.P1, text))


def _settled(team: Team, goal_id: str, timeout_s: float = 60) -> Goal:
    found: Goal = wait_for(lambda: (g := team.rt.goals.load(goal_id)).status.is_settled and g,
                           timeout_s, f"goal {goal_id} to settle")
    return found


def _in_progress(team: Team, goal_id: str, skill: str) -> None:
    wait_for(lambda: any(t.skill == skill and t.status is TaskStatus.IN_PROGRESS
                         for t in team.rt.goals.load(goal_id).tasks), 30, f"{skill} to run")


def _redeliver(client: redis.Redis, skill: str) -> int:
    """Put the running message of a skill back on its queue, as the broker does after a timeout."""
    copied = 0
    for raw in client.hvals("unacked"):
        payload, _exchange, routing_key = json.loads(raw)
        if payload["headers"].get("task") != f"skills.{skill}":
            continue
        priority = payload["properties"].get("priority") or 0
        queue = f"{routing_key}:{priority}" if priority else routing_key
        client.lpush(queue, json.dumps(payload))
        copied += 1
    return copied


@pytest.fixture
def slow_copy(scripted: ScriptedLLM) -> ScriptedLLM:
    """copywriting answers after 3 s; everything else at once, like the offline provider."""
    scripted.on(lambda c: c.is_skill("copywriting"), _draft, delay_s=3.0)
    return scripted


def test_a_redelivered_copy_of_a_running_chord_member_does_not_hang_the_phase(
        scripted_team: Team, slow_copy: ScriptedLLM) -> None:
    goal = scripted_team.launch(_goal(scripted_team, [["copywriting", "social-content"], ["paid-ads"]]))
    _in_progress(scripted_team, goal.id, "copywriting")

    # When the broker hands the running member's message out a second time
    assert _redeliver(scripted_team.rt.redis, "copywriting") == 1

    # Then the busy copy reports nothing for the phase, and the phase still advances
    done = _settled(scripted_team, goal.id)
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert slow_copy.count(lambda c: c.is_skill("copywriting")) == 1  # the copy never ran it


def test_a_member_finishing_after_the_chord_state_expired_still_advances_the_goal(
        redis_server: RunningServer, tmp_path: Path, slow_copy: ScriptedLLM) -> None:
    team = Team(redis_server, tmp_path / "ws", slow_copy)
    team.app.conf.result_chord_expires = 1  # the join's bookkeeping lapses while copywriting runs
    with team:
        goal = team.launch(_goal(team, [["copywriting", "social-content"], ["paid-ads"]]))

        done = _settled(team, goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason


def test_approving_a_cascade_pause_while_a_member_still_runs_does_not_fail_the_resumed_goal(
        redis_server: RunningServer, tmp_path: Path, scripted: ScriptedLLM) -> None:
    # Given a parallel phase where three skills fail for good, one is slow, one waits for a slot
    for skill in ("copywriting", "social-content", "paid-ads"):
        scripted.on(lambda c, s=skill: c.is_skill(s), LLMError("refused for good"))
    scripted.on(lambda c: c.is_skill("cold-email"), _draft, delay_s=3.0)
    with Team(redis_server, tmp_path / "ws", scripted, concurrency=4) as team:
        goal = team.launch(_goal(team, [["copywriting", "social-content", "paid-ads", "cold-email",
                                         "copy-editing"]]))
        paused = wait_for(lambda: (g := team.rt.goals.load(goal.id)).status is GoalStatus.WAITING_HUMAN
                          and g, 30, "the cascade pause")
        assert paused.status_reason.startswith("cascading failure")

        # When a person approves the cascade item while cold-email is still running
        [item] = team.rt.reviews.list(ItemStatus.OPEN)
        human_review.human_decision(team.rt, item.id, ItemStatus.APPROVED)
        phases.reopen(team.rt, goal.id)
        dispatch.start(team.app, team.rt, goal.id)

        # Then no stale callback of the paused canvas fails the resumed goal
        done = _settled(team, goal.id)
    assert "crashed" not in done.status_reason, done.status_reason
    by_skill = {t.skill: t.status for t in done.tasks}
    assert by_skill["cold-email"] is TaskStatus.APPROVED and by_skill["copy-editing"] is TaskStatus.APPROVED
    assert done.status is GoalStatus.FAILED and done.status_reason == "3 task(s) not approved"


def test_two_concurrent_resumes_pay_for_no_call_twice(scripted_team: Team, scripted: ScriptedLLM) -> None:
    # Given a goal stopped with three drafts written and none reviewed yet
    goal = _goal(scripted_team, [["copywriting", "social-content", "paid-ads"]])
    scripted_team.rt.goals.create(goal)

    def written(g: Goal) -> None:
        for task in g.tasks:
            spec = scripted_team.rt.catalog.skill(task.skill)
            text = OFFLINE.complete(system_blocks(spec, ""), [skill_message(spec, task.requirements)],
                                    "offline", 8192).text
            name = f"01-{task.skill}.md"
            scripted_team.rt.documents.put(g.id, name, f"---\nskill: {task.skill}\n---\n{text}")
            task.status, task.output = TaskStatus.COMPLETED, name
        g.status = GoalStatus.FAILED

    scripted_team.rt.goals.update(goal.id, written)

    # When two people run `mtctl goals resume` at the same moment
    def resume() -> None:
        phases.reopen(scripted_team.rt, goal.id)
        dispatch.start(scripted_team.app, scripted_team.rt, goal.id)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every task is reviewed once and the goal completes
    done = _settled(scripted_team, goal.id)
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    for task in done.tasks:
        assert scripted.count(lambda c, s=task.skill: c.is_review(s)) == 1, task.skill
    assert scripted.count(lambda c: c.schema is None) == 0  # no draft was paid again


def test_each_skill_task_keeps_its_own_name_and_id(team: Team) -> None:
    # Task.replace gave the review the skill task's id, so Flower showed no `skills.*` task at
    # all; a review chained at publish time is a message (and a task) of its own.
    published: dict[str, tuple[str, str]] = {}  # message id -> (task name, our task id)

    def seen(sender: str | None = None, headers: dict[str, object] | None = None,
             body: tuple[list[object], object, object] | None = None, **_: object) -> None:
        args = body[0] if body else []
        if len(args) > 1:
            published[str((headers or {}).get("id"))] = (str(sender), str(args[1]))

    signals.before_task_publish.connect(seen, weak=False)
    try:
        goal = team.goal("Increase signup conversion by 20%")
        done = _settled(team, goal.id)
    finally:
        signals.before_task_publish.disconnect(seen)
    assert done.status is GoalStatus.COMPLETED
    assert any(phase.parallel for phase in done.plan.phases)  # some results are stored, below

    for task in done.tasks:
        names = sorted(name for name, ours in published.values() if ours == task.id)
        assert names == ["director.review", f"skills.{task.skill}"], task.skill

    # The results Celery stores (a parallel phase's members: its chord needs them) are each under
    # the name its message was published with.
    client = team.rt.redis
    members = [task.id for task in done.tasks if done.plan.phases[task.phase_index].parallel]

    def members_stored() -> list[tuple[str, str]] | None:
        metas = [json.loads(client.get(key) or b"{}") for key in client.scan_iter("celery-task-meta-*")]
        found = [(str(m.get("task_id")), str(m.get("name"))) for m in metas
                 if published.get(str(m.get("task_id")), ("", ""))[1] in members]
        return found if len(found) >= 2 * len(members) else None

    for message_id, name in wait_for(members_stored, 10, "the parallel phases' results"):
        assert published[message_id][0] == name


def test_a_revision_that_crashes_fails_its_goal_at_once_naming_the_crash(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    # Given a draft its review sends back, and a revision whose run hits a bug (not a typed error)
    scripted.on(lambda c: c.is_skill("copywriting"), _draft)
    scripted.on(lambda c: c.is_review("copywriting"),
                {"verdict": "REVISE", "scores": dict.fromkeys(SCORE_DIMENSIONS, 5.0),
                 "findings": [], "revision_requests": ["Name the trial length"]})
    scripted.on(lambda c: c.is_skill("copywriting"), RuntimeError("a bug in the revision"))

    goal = scripted_team.launch(_goal(scripted_team, [["copywriting"], ["paid-ads"]]))

    # Then the crash fails the goal with its reason, as a crash of a first draft does, instead of
    # leaving it running until the watchdog's hard limit
    done = _settled(scripted_team, goal.id, timeout_s=30)
    assert done.status is GoalStatus.FAILED
    assert "a task crashed: RuntimeError: a bug in the revision" in (done.status_reason or "")
