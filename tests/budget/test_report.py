"""The daily cost report: rendered from the ledger's day, rewritten atomically after paid calls."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import redis
from budget_support import PAID

from marketing_team.budget.ledger import Spend
from marketing_team.budget.report import render
from marketing_team.config.settings import load_settings
from marketing_team.director.export import export_costs
from marketing_team.director.runtime import Runtime
from marketing_team.domain.values import utcnow
from marketing_team.llm.protocol import Message, SystemBlock
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer


def test_report_render_lists_the_day_by_skill_model_and_goal() -> None:
    day = Spend(spent=7_500_000, calls=3, by_skill={"copywriting": 5_000_000, "seo-audit": 2_500_000},
                by_model={"claude-sonnet-5": 7_500_000}, by_goal={"goal-20261125-aaaaaa": 7_500_000})

    text = render("2026-11-25", day, month_spent=850_000_000, budget=1_000_000_000)

    assert text.startswith("# Costs 2026-11-25")
    assert "- Spent this day: $7.500000 over 3 model call(s)" in text
    assert "$850.000000 of $1000.00 (85.0%), level warning" in text
    assert "| copywriting | 5.000000 |" in text.split("## By model")[0]
    assert "| claude-sonnet-5 | 7.500000 |" in text
    assert "| goal-20261125-aaaaaa | 7.500000 |" in text


def test_report_export_shows_every_paid_call_of_the_day(redis_server: RunningServer,
                                                       redis_client: redis.Redis, tmp_path: Path) -> None:
    cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url,
                        **PAID)
    for cost in ("0.25", "0.50"):
        scripted = ScriptedLLM(cost_per_call=Decimal(cost)).on(lambda call: True, "ok")
        rt = Runtime(settings=cfg, llm=scripted, broker_url=redis_server.url)
        rt.guarded("", "seo-audit").complete([SystemBlock("audit")], [Message("user", "the site")],
                                             "claude-sonnet-5", 500)

    text = export_costs(rt, f"{utcnow():%Y-%m-%d}").read_text()
    assert "- Spent this day: $0.750000 over 2 model call(s)" in text
    assert "| seo-audit | 0.750000 |" in text
