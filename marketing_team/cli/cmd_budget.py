"""`mtctl budget`: the month's level, spend and what is left, by skill, model and day."""

from __future__ import annotations

import re

import click

from marketing_team.budget.ledger import Spend, month_of
from marketing_team.budget.policy import level_for, share_percent, to_micros, to_usd
from marketing_team.budget.summary import budget_summary
from marketing_team.cli.common import emit_json, say, settings
from marketing_team.config.settings import Settings
from marketing_team.domain.errors import InputError
from marketing_team.domain.values import utcnow
from marketing_team.ops.run_mode import store_session


def _print(cfg: Settings, spend: Spend, month: str, source: str) -> None:
    budget = to_micros(cfg.budget_monthly, round_up=False)
    level = level_for(spend.spent, budget)
    say(f"Budget {month}: ${to_usd(spend.spent):.2f} of ${to_usd(budget):.2f} spent "
               f"({share_percent(spend.spent, budget)}%), level {level}; "
               f"${to_usd(max(0, budget - spend.spent)):.2f} left")
    say(f"  {spend.calls} model call(s); ${to_usd(spend.reserved):.4f} held by calls in "
               f"flight; caps ${cfg.goal_budget_cap:.2f} per goal, ${cfg.call_cost_cap:.2f} per call")
    if spend.lapsed:
        say(f"  ${to_usd(spend.lapsed):.4f} of it charged at the bound of holds whose worker vanished "
            "before settling (what the provider billed for them is unknown)")
    for title, amounts in (("skill", spend.by_skill), ("model", spend.by_model)):
        if amounts:
            say(f"By {title}:")
            for name, micros in sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0])):
                say(f"  {name:<32} ${to_usd(micros):.4f}")
    if spend.by_day:
        say("By day:")
        for day, micros in sorted(spend.by_day.items()):
            say(f"  {day:<32} ${to_usd(micros):.4f}")


@click.command("budget")
@click.option("--month", default=None, help="YYYY-MM (default: this month, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def budget_cmd(month: str | None, as_json: bool) -> None:
    """Show the budget level, spend and what is left, by skill, model and day."""
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise InputError(f"--month must be YYYY-MM, not {month!r}")
    cfg = settings()
    chosen = month or month_of(utcnow())
    source = "redis" if cfg.broker_url is not None else "embedded"
    with store_session(cfg) as rt:
        spend = rt.budget.ledger.month(chosen)
    if as_json:
        emit_json(budget_summary(cfg, spend, chosen, source))
    else:
        _print(cfg, spend, chosen, source)


def register(cli: click.Group) -> None:
    """Add `budget` to mtctl."""
    cli.add_command(budget_cmd)
