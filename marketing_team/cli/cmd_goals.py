"""`mtctl goal`, `mtctl pipeline` and `mtctl goals list|show|export|resume|cancel`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from marketing_team.cli.common import (
    PRIORITY,
    emit_json,
    local_runtime,
    offline_notice,
    say,
    settings,
)
from marketing_team.cli.goal_run import finish, follow_goal, refuse_unless_healthy, report, run_goal
from marketing_team.cli.live_view import planning_status
from marketing_team.cli.watch import goal_summary, print_summary
from marketing_team.config.settings import Settings
from marketing_team.director import export, flow
from marketing_team.director.launch import (
    check_topic,
    estimate_cost,
    plan_goal,
    plan_pipeline,
    rule_planned,
)
from marketing_team.director.product_context import sync_from_file
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Category, Goal, GoalStatus, Priority
from marketing_team.domain.values import check_id
from marketing_team.observability import progress
from marketing_team.ops.run_mode import RunMode, existing_store, store_session
from marketing_team.orchestration import decisions

CATEGORY = click.Choice([c.value for c in Category])
def _print_plan(rt: Runtime, goal: Goal, note: str) -> None:
    say(f"Plan for: {goal.description}  [{goal.category}, {goal.priority}]")
    say(f"Source: {goal.plan.source}{' (' + goal.plan.template + ')' if goal.plan.template else ''}"
        f" — {note}")
    for index, phase in enumerate(goal.plan.phases, start=1):
        mode = "parallel" if phase.parallel else "sequential"
        say(f"  {index}. {phase.name} [{mode}]: {', '.join(phase.skills)}")
    cost = f"${estimate_cost(rt, goal):.4f} on {rt.provider_name}"
    if rt.offline:
        cost += f" (about ${estimate_cost(rt, goal, 'anthropic'):.2f} with Anthropic's models)"
    say(f"Estimated cost: {cost} for {len(goal.tasks)} tasks and their reviews, before revisions")


@click.command("goal")
@click.argument("text")
@click.option("--priority", type=PRIORITY, default="P1", show_default=True)
@click.option("--category", type=CATEGORY, default=None, help="Skip classification.")
@click.option("--dry-run", is_flag=True, help="Print the plan and its cost estimate; write nothing.")
@click.option("--detach", is_flag=True, help="Publish and return (needs REDIS_URL and workers).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--embedded-worker", is_flag=True, help="With REDIS_URL, also run a worker in-process.")
def goal_cmd(text: str, priority: str, category: str | None, dry_run: bool, detach: bool,
             as_json: bool, embedded_worker: bool) -> None:
    """Run a goal: plan it, run every phase on the team, review everything, summarise."""
    if not text.strip():
        raise InputError("goal text is empty")
    cfg = settings()
    chosen = Category(category) if category else None
    if dry_run:
        _dry_run(cfg, text, Priority(priority), chosen, as_json)
        return
    with RunMode(cfg, run_worker=True if embedded_worker else None) as mode:
        assert mode.runtime is not None
        refuse_unless_healthy(mode, Priority(priority))
        offline_notice(cfg)
        _sync_context(mode.runtime, as_json)
        with planning_status(as_json or mode.runtime.offline, mode.runtime.model_for("opus")):
            goal, _ = plan_goal(mode.runtime, text, Priority(priority), chosen)
        run_goal(mode, goal, detach, as_json)


def _dry_run(cfg: Settings, text: str, priority: Priority, category: Category | None,
             as_json: bool) -> None:
    """The rule plan and its estimate: no model call, nothing written (the store is only read,
    and only when it already exists)."""
    with existing_store(cfg) as stored:
        rt = stored or local_runtime(cfg)
        has_context = stored is not None and bool(stored.context.get().strip())
        model = "" if rt.offline else f"; a real run asks {rt.model_for('opus')} for its plan"
        goal, note = rule_planned(rt, text, priority, category, has_context,
                                  f"rule plan (a dry run calls no model{model})")
        offline_notice(cfg)
        if as_json:
            emit_json({"status": "planned", "description": goal.description,
                       "category": goal.category.value, "priority": goal.priority.value,
                       "plan_source": goal.plan.source, "note": note,
                       "phases": [{"name": p.name, "skills": list(p.skills),
                                   "parallel": p.parallel} for p in goal.plan.phases],
                       "estimated_cost_usd": float(estimate_cost(rt, goal)),
                       "planning_cost_usd": 0.0, "provider": rt.provider_name})
        else:
            _print_plan(rt, goal, note)


def _sync_context(rt: Runtime, quiet: bool) -> None:
    """Send context/product.md to the team when it changed (the file wins), and say so."""
    note = sync_from_file(rt)
    if note and (not quiet or note.startswith("warning:")):  # stderr: --json's stdout stays JSON
        say(note, err=True)


@click.command("pipeline")
@click.argument("template")
@click.option("--priority", type=PRIORITY, default=None, help="Default: the template's.")
@click.option("--detach", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--embedded-worker", is_flag=True)
@click.option("--topic", default=None,
              help="What this run is about; every step writes about it.")
def pipeline_cmd(template: str, priority: str | None, detach: bool, as_json: bool,
                 embedded_worker: bool, topic: str | None) -> None:
    """Run every step of a named pipeline template as a goal."""
    cfg = settings()
    local_runtime(cfg).catalog.pipeline(template)  # unknown template: fail before starting anything
    if topic is not None:
        check_topic(topic)  # and a bad topic
    with RunMode(cfg, run_worker=True if embedded_worker else None) as mode:
        assert mode.runtime is not None
        offline_notice(cfg)
        _sync_context(mode.runtime, as_json)
        goal = plan_pipeline(mode.runtime, template, Priority(priority) if priority else None,
                             topic=topic)
        refuse_unless_healthy(mode, goal.priority)
        run_goal(mode, goal, detach, as_json)


@click.group("goals")
def goals_group() -> None:
    """List, inspect, resume and cancel goals."""


@goals_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--status", type=click.Choice([g.value for g in GoalStatus]), default=None)
def goals_list(as_json: bool, limit: int, status: str | None) -> None:
    """The newest goals with status, progress and cost (read from the index)."""
    with store_session(settings()) as rt:
        found = rt.goals.recent(limit, GoalStatus(status) if status else None)
        rows: list[dict[str, Any]] = [
            goal_summary(rt, g) if isinstance(g, Goal) else
            {"goal_id": g.id, "status": "unreadable", "reason": g.reason} for g in found]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("no goals yet")
    for row in rows:
        if row["status"] == "unreadable":
            say(f"{row['goal_id']}  unreadable       {row['reason'][:80]}")
            continue
        say(f"{row['goal_id']}  {row['status']:<16} {row['tasks']['approved']}/"
                   f"{row['tasks']['total']} ${row['cost_usd']:.4f}  {row['description'][:60]}")


@goals_group.command("show")
@click.argument("goal_id")
@click.option("--json", "as_json", is_flag=True)
def goals_show(goal_id: str, as_json: bool) -> None:
    """One goal: its phases, tasks, reviews, scores and failures."""
    with store_session(settings()) as rt:
        goal = rt.goals.load(check_id(goal_id, "goal id"))
        data = goal_summary(rt, goal)
        if not as_json:
            print_summary(rt, goal)
    if as_json:
        data["task_list"] = [{"id": t.id, "phase": t.phase_index + 1, "skill": t.skill,
                              "status": t.status.value, "revision": t.revision,
                              "cost_usd": float(t.cost_usd), "output": t.output, "error": t.error,
                              "overall": t.last_review.overall if t.last_review else None}
                             for t in goal.tasks]
        emit_json(data)
        return
    for index, phase in enumerate(goal.plan.phases):
        say(f"  phase {index + 1}: {phase.name}")
        for t in goal.phase_tasks(index):
            score = f" score {t.last_review.overall}" if t.last_review and t.last_review.overall else ""
            err = f" — {t.error}" if t.error else ""
            say(f"    {t.skill:<28} {t.status.value:<12} rev {t.revision}{score}{err}")


@goals_group.command("export")
@click.argument("goal_id", required=False)
@click.option("--all", "everything", is_flag=True,
              help="Every kept goal, the review items, learnings and today's reports.")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write under this directory (default: WORKSPACE_DIR).")
def goals_export(goal_id: str | None, everything: bool, to: Path | None) -> None:
    """Rebuild a goal's markdown folder (or every goal's) from the store, at any time."""
    if everything == (goal_id is not None):
        raise InputError("give one goal id or --all")
    with store_session(settings()) as rt:
        if goal_id is not None:
            folder = export.export_goal(rt, check_id(goal_id, "goal id"), to)
            say(f"exported {goal_id} -> {folder}")
            return
        done = export.export_everything(rt, to)
        root = to or rt.workspace.root
    say(f"exported {done.goals} goal(s) and {done.review_items} review item(s) -> {root}"
               + (f"; {done.skipped} unreadable goal(s) skipped (see the warnings)" if done.skipped else ""))


@goals_group.command("resume")
@click.argument("goal_id")
@click.option("--detach", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--embedded-worker", is_flag=True)
def goals_resume(goal_id: str, detach: bool, as_json: bool, embedded_worker: bool) -> None:
    """Continue a stopped goal from its first unfinished task (finished tasks are not re-run)."""
    cfg = settings()
    check_id(goal_id, "goal id")
    with RunMode(cfg, run_worker=True if embedded_worker else None) as mode:
        rt, app = mode.runtime, mode.app
        assert rt is not None and app is not None
        rt.goals.load(goal_id)  # unknown id: one line, nothing started
        click.get_current_context().meta["mt.goal_id"] = goal_id
        offline_notice(cfg)
        if detach and mode.embedded:
            raise InputError("--detach needs REDIS_URL and running workers")
        sub = progress.Subscription(rt.redis, goal_id)
        if detach:
            try:
                decisions.resume_goal(app, rt, goal_id)
            finally:
                sub.close()
            report(rt, rt.goals.load(goal_id), as_json)
            return
        try:
            final = follow_goal(mode, goal_id, sub, as_json,
                                lambda: decisions.resume_goal(app, rt, goal_id))
        finally:
            sub.close()
        finish(mode, final, as_json)


@goals_group.command("cancel")
@click.argument("goal_id")
def goals_cancel(goal_id: str) -> None:
    """Cancel a goal; running tasks finish, nothing new starts."""
    with store_session(settings()) as rt:
        goal = flow.cancel(rt, check_id(goal_id, "goal id"))
    say(f"Goal {goal.id}: {goal.status.value}")


def register(cli: click.Group) -> None:
    """Add the goal commands to mtctl."""
    cli.add_command(goal_cmd)
    cli.add_command(pipeline_cmd)
    cli.add_command(goals_group)
