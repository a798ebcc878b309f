"""Human-readable markdown for a goal: its status page, its plan and its final summary."""

from __future__ import annotations

from collections.abc import Sequence

from marketing_team.domain.goal import Goal, TaskStatus
from marketing_team.domain.learning import Learning
from marketing_team.domain.review_item import ReviewItem
from marketing_team.store import frontmatter


def _task_table(goal: Goal) -> list[str]:
    rows = ["| Phase | Skill | Status | Revision | Cost (USD) | Deliverable |",
            "|---|---|---|---|---|---|"]
    for task in goal.tasks:
        link = f"[{task.output}]({task.output})" if task.output else "—"
        rows.append(f"| {task.phase_index + 1} | {task.skill} | {task.status} | {task.revision} "
                    f"| {task.cost_usd:.4f} | {link} |")
    return rows


def goal_body(goal: Goal) -> str:
    """The body of goal.md: what the goal is and where it stands."""
    lines = [f"# {goal.description}", "",
             f"- Goal id: `{goal.id}`", f"- Category: {goal.category}", f"- Priority: {goal.priority}",
             f"- Status: **{goal.status}**" + (f" — {goal.status_reason}" if goal.status_reason else ""),
             f"- Phase: {goal.phase_number} of {len(goal.plan.phases)}",
             f"- Cost so far: ${goal.cost_usd:.4f}", f"- Provider: {goal.provider}", ""]
    return "\n".join(lines + _task_table(goal)) + "\n"


def plan_markdown(goal: Goal) -> str:
    """plan.md: the phases, where the plan came from and which learnings informed it."""
    lines = [f"# Plan for {goal.id}", "", f"Goal: {goal.description}", "",
             f"Source: {goal.plan.source}" + (f" ({goal.plan.template})" if goal.plan.template else ""),
             *([f"How it was chosen: {goal.plan.note}"] if goal.plan.note else []),
             "", goal.plan.rationale, ""]
    for index, phase in enumerate(goal.plan.phases, start=1):
        mode = "in parallel" if phase.parallel else "in order"
        lines.append(f"## Phase {index}: {phase.name}")
        lines.append(f"Runs {mode}: " + ", ".join(phase.skills))
        lines.append("")
    if goal.plan.learnings_used:
        lines += ["## Learnings used", *[f"- {item}" for item in goal.plan.learnings_used], ""]
    return "\n".join(lines)


def summary_markdown(goal: Goal, offline: bool) -> str:
    """summary.md: outcome, per-task results and links to every deliverable."""
    done = sum(1 for t in goal.tasks if t.status is TaskStatus.APPROVED)
    failed = sum(1 for t in goal.tasks if t.status is TaskStatus.FAILED)
    head = ["> Written by the offline provider: no model wrote this summary or its deliverables.", ""] if offline else []
    duration = ""
    if goal.finished_at is not None:
        duration = f"- Duration: {(goal.finished_at - goal.created_at).total_seconds():.1f} s"
    lines = head + [
        f"# Summary: {goal.description}", "",
        f"- Goal id: `{goal.id}`", f"- Status: **{goal.status}**"
        + (f" — {goal.status_reason}" if goal.status_reason else ""),
        f"- Tasks approved: {done} of {len(goal.tasks)}; failed: {failed}",
        f"- Cost: ${goal.cost_usd:.4f}", duration, "", "## Deliverables", "",
    ]
    lines += _task_table(goal)
    lines += ["", "See [plan.md](plan.md) for the plan and `reviews/` for every review.", ""]
    return "\n".join(lines)


def goal_page(goal: Goal) -> str:
    """goal.md: the headline fields as YAML front matter, then the status page."""
    meta = {"goal_id": goal.id, "status": goal.status.value, "category": goal.category.value,
            "priority": goal.priority.value, "phase": goal.phase_number,
            "phases": len(goal.plan.phases), "cost_usd": str(goal.cost_usd),
            "created_at": goal.created_at.isoformat(), "updated_at": goal.updated_at.isoformat()}
    return frontmatter.dump(meta, goal_body(goal))


def review_item_page(item: ReviewItem) -> str:
    """reviews/<id>.md: one human review item with what to run to decide it."""
    body = [f"# Review needed: {item.skill or 'goal'} ({item.reason.value})", "",
            f"- Goal: `{item.goal_id}`", f"- Task: `{item.task_id or '—'}`",
            f"- Status: **{item.status.value}**", f"- Deliverable: {item.deliverable or '—'}", "",
            item.summary, ""]
    if item.notes:
        body += ["## Reviewer notes", item.notes, ""]
    body += ["Decide with `mtctl reviews approve|revise --notes ...|reject " + item.id + "`.", ""]
    return frontmatter.dump(item.model_dump(mode="json"), "\n".join(body))


def learnings_page(learnings: Sequence[Learning]) -> str:
    """memory/learnings.md: the newest learnings, newest first."""
    lines = ["# Learnings", "", "What the team learned from outcomes, newest first.", ""]
    for item in learnings:
        offline = " · offline run (not shown to models)" if item.offline else ""
        lines += [f"## {item.timestamp:%Y-%m-%d %H:%M} · {item.skill} · {item.outcome}{offline}",
                  f"- Goal: {item.goal_id or '—'}", f"- Lesson: {item.lesson}"]
        if item.action:
            lines.append(f"- Action: {item.action}")
        if item.tags:
            lines.append(f"- Tags: {', '.join(item.tags)}")
        lines.append("")
    return "\n".join(lines)
