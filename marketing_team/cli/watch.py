"""Live progress of a goal on stderr and the final summary (human or the JSON contract)."""

from __future__ import annotations

from typing import Any

import click

from marketing_team.cli.common import say
from marketing_team.cli.live_view import make_view
from marketing_team.director import export
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, TaskStatus
from marketing_team.domain.text import terminal_safe
from marketing_team.domain.values import utcnow
from marketing_team.observability import progress
from marketing_team.observability.metrics import today

REDRAW_S = 0.5  # how often elapsed times move while nothing is published


def goal_summary(rt: Runtime, goal: Goal) -> dict[str, Any]:
    """The `--json` contract of goal, pipeline and goals show."""
    end = goal.finished_at or utcnow()
    statuses = [t.status for t in goal.tasks]
    return {
        "goal_id": goal.id,
        "status": goal.status.value,
        "reason": goal.status_reason,
        "description": goal.description,
        "category": goal.category.value,
        "priority": goal.priority.value,
        "pipeline": goal.pipeline,
        "phases": len(goal.plan.phases),
        "current_phase": goal.phase_number,
        "tasks": {"total": len(statuses),
                  "approved": statuses.count(TaskStatus.APPROVED),
                  "failed": statuses.count(TaskStatus.FAILED),
                  "blocked": statuses.count(TaskStatus.BLOCKED)},
        "cost_usd": float(goal.cost_usd),
        "duration_s": round((end - goal.created_at).total_seconds(), 2),
        "folder": str(export.goal_folder(rt, goal.id)),
        "provider": goal.provider,
    }


def print_summary(rt: Runtime, goal: Goal) -> None:
    """A short human summary on stdout."""
    data = goal_summary(rt, goal)
    tasks = data["tasks"]
    color = "green" if goal.status.value == "completed" else "yellow"
    click.echo(click.style(f"Goal {goal.id}: {goal.status.value}", fg=color, bold=True)
               + (f" ({terminal_safe(goal.status_reason)})" if goal.status_reason else ""))
    say(f"  tasks: {tasks['approved']} approved, {tasks['failed']} failed, "
               f"{tasks['blocked']} waiting for review, of {tasks['total']}")
    say(f"  cost: ${data['cost_usd']:.4f}   duration: {data['duration_s']:.1f} s   "
               f"provider: {data['provider']}")
    say(f"  folder: {data['folder']}")


def follow(rt: Runtime, goal_id: str, sub: progress.Subscription, quiet: bool = False) -> Goal:
    """Show progress until the goal settles: woken by each published change, and twice a second
    to redraw elapsed times while calls run.

    The goal's folder is exported as events arrive (each new document, and goal.md), then in
    full once the goal settles: the folder is this command's, nothing reads it back.
    """
    goal = sub.read(lambda: rt.goals.load(goal_id))
    view = make_view(quiet)
    try:
        if view is not None:
            view.update(goal, None)
        for event in ([] if goal.status.is_settled else sub.events(wake_every_s=REDRAW_S)):
            goal = sub.read(lambda: rt.goals.load(goal_id))  # waits out a Redis restart, then says so
            if event is not None:
                document = event.get("document")
                if isinstance(document, str):
                    export.export_document(rt, goal_id, document)
                export.export_status(rt, goal_id)
            if view is not None:
                view.update(goal, event)
            # A view behind the goal reads it settled before it read every event: it tells the
            # rest of the story, up to the goal's end (or until the channel falls quiet).
            if goal.status.is_settled and (event is None or event.get("event") == "goal_finished"):
                break
    finally:
        if view is not None:
            view.close()
    export_all(rt, goal_id)
    return goal


def export_all(rt: Runtime, goal_id: str) -> None:
    """The goal's whole folder, plus today's cost and metrics reports, learnings and review items."""
    export.export_goal(rt, goal_id)
    export.export_daily_report(rt, today(rt.settings.timezone))
    export.export_costs(rt, utcnow().strftime("%Y-%m-%d"))
    export.export_learnings(rt)
    export.export_reviews(rt)
