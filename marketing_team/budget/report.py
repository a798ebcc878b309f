"""The daily cost report `metrics/YYYY-MM-DD-costs.md`: the ledger's day by skill, model and goal."""

from __future__ import annotations

from pathlib import Path

from marketing_team.budget.ledger import Ledger, Spend
from marketing_team.budget.policy import level_for, share_percent, to_usd
from marketing_team.store.workspace import Workspace, atomic_write


def cost_report_path(workspace: Workspace, day: str) -> Path:
    """Where the report of a day (YYYY-MM-DD) lives."""
    return workspace.metrics_dir / f"{day}-costs.md"


def _table(title: str, column: str, amounts: dict[str, int]) -> list[str]:
    lines = [f"## By {title}", "", f"| {column} | Cost (USD) |", "|---|---:|"]
    for name, micros in sorted(amounts.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"| {name} | {to_usd(micros):.6f} |")
    if not amounts:
        lines.append("| (none) | 0.000000 |")
    return [*lines, ""]


def render(day: str, spend: Spend, month_spent: int, budget: int) -> str:
    """The report's markdown for one day, with the month to date for context."""
    level = level_for(month_spent, budget)
    lines = [
        f"# Costs {day}", "",
        f"- Spent this day: ${to_usd(spend.spent):.6f} over {spend.calls} model call(s)",
        f"- Month to date ({day[:7]}): ${to_usd(month_spent):.6f} of ${to_usd(budget):.2f} "
        f"({share_percent(month_spent, budget)}%), level {level}",
        "- Source: the Redis ledger (UTC days); this file is an export, rewritten by each export.", "",
    ]
    lines += _table("skill", "Skill", spend.by_skill)
    lines += _table("model", "Model", spend.by_model)
    lines += _table("goal", "Goal", spend.by_goal)
    return "\n".join(lines)


def write_cost_report(ledger: Ledger, workspace: Workspace, budget: int, day: str) -> Path:
    """Rewrite a day's report from the ledger, atomically (budget in micro-dollars)."""
    path = cost_report_path(workspace, day)
    text = render(day, ledger.day(day), ledger.month_spent(day[:7]), budget)
    atomic_write(path, text + "\n")
    return path
