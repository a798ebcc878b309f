"""The day's metrics report `metrics/YYYY-MM-DD-report.md`: runs, failures, tokens and cost by skill and goal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.observability.metrics import Counters, goal, goals_on, skills, today
from marketing_team.store.workspace import atomic_write


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(rt: Runtime, day: date) -> str:
    """The day's report: a table per skill, a table per goal, totals."""
    per_skill = skills(rt.redis, day)
    lines = [f"# Metrics report {day.isoformat()}", "",
             f"Task runs metered on {day.isoformat()} ({rt.settings.timezone}); costs in USD.", "",
             "## By skill", ""]
    if not per_skill:
        lines += ["No task ran this day.", ""]
    else:
        lines += ["| Skill | Runs | Failures | Retries | Avg s | Tokens in | Tokens out | Cost |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        total = Counters()
        for name, c in per_skill.items():
            total = total + c
            lines.append(_skill_row(_cell(name), c))
        lines += [_skill_row("**Total**", total), ""]
    lines += ["## By goal", ""]
    ids = goals_on(rt.redis, day)
    if not ids:
        lines += ["No goal ran this day.", ""]
    else:
        lines += ["| Goal | Status | Runs | Failures | Duration s | Tokens | Goal cost | Description |",
                  "|---|---|---:|---:|---:|---:|---:|---|"]
        for goal_id in ids:
            c = goal(rt.redis, goal_id)
            status, cost, text = _goal_facts(rt, goal_id)
            lines.append(f"| {goal_id} | {status} | {c.runs} | {c.failures} | {c.duration_s:.1f} | "
                         f"{c.tokens_in + c.tokens_out} | {cost} | {_cell(text[:80])} |")
        lines.append("")
    return "\n".join(lines)


def _skill_row(name: str, c: Counters) -> str:
    return (f"| {name} | {c.runs} | {c.failures} | {c.retries} | {c.avg_duration_s:.2f} | "
            f"{c.tokens_in} | {c.tokens_out} | {c.cost_usd:.4f} |")


def _goal_facts(rt: Runtime, goal_id: str) -> tuple[str, str, str]:
    """Status, total cost (reviews included) and description from the goal store."""
    try:
        g = rt.goals.load(goal_id)
    except MarketingTeamError as exc:  # a deleted or corrupt goal still gets its metrics row
        return "unknown", "-", f"({type(exc).__name__})"
    return g.status.value, f"{g.cost_usd:.4f}", g.description


def metrics_report_path(rt: Runtime, day: date) -> Path:
    """`workspace/metrics/YYYY-MM-DD-report.md`."""
    return rt.workspace.metrics_dir / f"{day.isoformat()}-report.md"


def write_daily_report(rt: Runtime, day: date | None = None) -> Path:
    """Write (atomically) and return the day's report; the day defaults to today in MT_TIMEZONE."""
    chosen = day or today(rt.settings.timezone)
    path = metrics_report_path(rt, chosen)
    atomic_write(path, report_markdown(rt, chosen))
    return path


__all__ = ["report_markdown", "write_daily_report"]
