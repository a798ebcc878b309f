"""Live progress of a goal on stderr and the final summary (human or the JSON contract)."""

from __future__ import annotations

from typing import Any

import click

from marketing_team.cli.common import say
from marketing_team.director import export
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, TaskStatus
from marketing_team.domain.text import terminal_safe
from marketing_team.domain.values import utcnow
from marketing_team.observability import progress
from marketing_team.observability.metrics import today


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
        "current_phase": min(goal.current_phase + 1, len(goal.plan.phases)),
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


def _line(goal: Goal, event: dict[str, Any]) -> str | None:
    kind = event.get("event")
    phase = f"[phase {min(goal.current_phase + 1, len(goal.plan.phases))}/{len(goal.plan.phases)}]"
    cost = f"${goal.cost_usd:.4f}"
    if kind == "task_completed":
        return f"{phase} {event.get('skill')}: draft written (revision {event.get('revision')})  {cost}"
    if kind == "task_reviewed":
        return f"{phase} {event.get('skill')}: {event.get('verdict')} -> {event.get('status')}  {cost}"
    if kind == "task_failed":
        return f"{phase} {event.get('skill')}: failed ({event.get('reason')})"
    if kind == "phase_done":
        return f"phase {event.get('phase')} done -> {event.get('next')}"
    if kind == "goal_finished":
        return f"goal {event.get('status')}"
    return None


def follow(rt: Runtime, goal_id: str, sub: progress.Subscription, quiet: bool = False) -> Goal:
    """Print progress until the goal settles (event-driven: wakes on each published change).

    The goal's folder is exported as events arrive (each new document, and goal.md), then in
    full once the goal settles: the folder is this command's, nothing reads it back.
    """
    goal = sub.read(lambda: rt.goals.load(goal_id))
    for event in ([] if goal.status.is_settled else sub.events()):
        goal = sub.read(lambda: rt.goals.load(goal_id))  # waits out a Redis restart, then says so
        if event is not None:
            document = event.get("document")
            if isinstance(document, str):
                export.export_document(rt, goal_id, document)
            export.export_status(rt, goal_id)
            line = None if quiet else _line(goal, event)
            if line:
                say(line, err=True)
        if goal.status.is_settled:
            break
    export_all(rt, goal_id)
    return goal


def export_all(rt: Runtime, goal_id: str) -> None:
    """The goal's whole folder, plus today's cost and metrics reports, learnings and review items."""
    export.export_goal(rt, goal_id)
    export.export_daily_report(rt, today(rt.settings.timezone))
    export.export_costs(rt, utcnow().strftime("%Y-%m-%d"))
    export.export_learnings(rt)
    export.export_reviews(rt)
