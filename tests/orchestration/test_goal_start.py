"""Starting a goal on the wire: every write it needs, in as few round trips as they allow.

A goal's start is on its critical path (`mtctl goal`, a webhook's goal, a schedule's): before
this, a goal with a parallel phase of four took fifteen round trips to store and publish.
"""

from __future__ import annotations

import time

from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import Category, Goal, GoalStatus, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.observability import progress
from marketing_team.store.outbox import OUTBOX
from marketing_team.testing.team import Team

SKILLS = ("page-cro", "form-cro", "signup-flow-cro", "popup-cro")


def _goal() -> Goal:
    plan = Plan(phases=(PhaseSpec(name="pages", skills=SKILLS, parallel=True),), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Increase signup conversion by 20%",
                category=Category.OPTIMIZATION, priority=Priority.P3, plan=plan,
                tasks=build_tasks(goal_id, plan, Priority.P3, "test"))


def test_storing_and_starting_a_goal_with_four_parallel_skills_takes_nine_round_trips(
        idle: Team, round_trips: list[bytes]) -> None:
    goal = _goal()
    watcher = progress.Subscription(idle.rt.redis, goal.id)  # takes a connection of its own
    idle.launch(_goal())  # connections open and scripts loaded, as in a process that has run a while
    round_trips.clear()

    idle.launch(goal)

    # Stored (1); read with the budget it may spend (1); claimed running (1); the chord's size
    # (1) and its four messages (4); the outbox crossed off with the start announced (1).
    assert len(round_trips) == 9
    started = idle.rt.goals.load(goal.id)
    assert started.status is GoalStatus.RUNNING and started.dispatched_phase == 0
    assert idle.rt.redis.zscore(OUTBOX, f"{goal.id}:{goal.run}:0") is None
    assert sum(idle.rt.redis.llen(key) for key in idle.rt.redis.scan_iter("skills*")) >= 4
    deadline = time.monotonic() + 5
    for event in watcher.events(wake_every_s=0.1):  # None: the subscription's own reply, or quiet
        if (event is not None and event["event"] == "goal_started") or time.monotonic() > deadline:
            break
    watcher.close()
    assert event is not None and event["event"] == "goal_started"
