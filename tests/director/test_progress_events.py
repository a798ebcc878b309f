"""Followers hear a step start when it starts (the live view and the cold-start benchmark use it)."""

from __future__ import annotations

from marketing_team.director.launch import plan_goal
from marketing_team.domain.goal import Category, Priority
from marketing_team.observability import progress
from marketing_team.testing.team import Team


def test_each_skill_step_announces_its_start_before_its_draft(team: Team) -> None:
    planned, _ = plan_goal(team.rt, "Write a launch announcement", Priority.P2, Category.CONTENT)
    sub = progress.Subscription(team.rt.redis, planned.id)  # before it runs: nothing is missed
    try:
        done = team.wait(team.launch(planned).id)
        heard: list[tuple[str, str]] = []
        quiet = 0
        for event in sub.events(wake_every_s=0.2):
            if event is None:  # (the subscription's own confirmation reads as None too)
                quiet += 1
                if quiet == 3:
                    break  # nothing more was published
                continue
            quiet = 0
            heard.append((str(event.get("event")), str(event.get("skill"))))
    finally:
        sub.close()

    for task in done.tasks:
        started = heard.index(("task_started", task.skill))
        assert started < heard.index(("task_completed", task.skill)), task.skill
