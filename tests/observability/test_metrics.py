"""Metrics: every task run metered per skill and per goal in Redis, and the daily markdown report."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import redis

from marketing_team.director import daily_report
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.observability import metrics
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

DAY = date(2026, 3, 14)


def test_metrics_goal_run_counts_each_skill_once_with_its_tokens(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given a team on the offline provider
    with Team(redis_server, tmp_path / "ws", OfflineProvider()) as team:
        # When a goal runs to the end
        goal = team.goal("Increase signup conversion by 20%")
        assert team.wait(goal.id).status is GoalStatus.COMPLETED
        tasks = team.rt.goals.load(goal.id).tasks
        today = metrics.today(team.settings.timezone)
        phases = len(team.rt.goals.load(goal.id).plan.phases)

        def metered() -> dict[str, metrics.Counters] | None:
            # The last advance_goal is metered by its postrun, just after the goal settles.
            found = metrics.skills(redis_client, today)
            done = found.get("director.advance_goal", metrics.Counters()).runs == phases
            return found if done else None

        per_skill = wait_for(metered, 10, "the last run to be metered")

    # Then each skill ran once, with the tokens its task record holds, and the goal sums them
    for task in tasks:
        counted = per_skill[task.skill]
        assert (counted.runs, counted.failures) == (1, 0), task.skill
        assert (counted.tokens_in, counted.tokens_out) == (task.tokens_in, task.tokens_out)
    assert per_skill["director.review"].runs == len(tasks)
    whole = metrics.goal(redis_client, goal.id)
    assert whole.tokens_in == sum(t.tokens_in for t in tasks)
    assert whole.runs == sum(c.runs for c in per_skill.values())
    assert metrics.goals_on(redis_client, today) == [goal.id]


def test_metrics_record_counts_only_the_growth_of_a_task_cumulative_cost(redis_client: redis.Redis) -> None:
    # Given a task metered after its first draft, then again after a revision and a redelivery
    first = metrics.Totals(100, 50, Decimal("0.0105"))
    revised = metrics.Totals(250, 120, Decimal("0.0252"))
    for totals in (first, revised, revised):
        metrics.record(redis_client, metrics.TaskRun("copywriting", DAY, 1.5, "goal-20260314-aaaaaa",
                                                 "copywriting-20260314-bbbbbb", totals=totals))

    # Then runs count each execution, while tokens and cost count the cumulative growth once
    counted = metrics.skills(redis_client, DAY)["copywriting"]
    assert counted.runs == 3 and counted.duration_s == 4.5
    assert (counted.tokens_in, counted.tokens_out, counted.cost_usd) == (250, 120, Decimal("0.0252"))
    assert metrics.skills(redis_client)["copywriting"] == counted  # the all-time totals agree


def test_metrics_failures_and_retries_are_counted_apart(redis_client: redis.Redis) -> None:
    for failed, retried in ((True, False), (False, True), (False, False)):
        metrics.record(redis_client, metrics.TaskRun("page-cro", DAY, 0.2, failed=failed, retried=retried))

    counted = metrics.skills(redis_client, DAY)["page-cro"]
    assert (counted.runs, counted.failures, counted.retries) == (2, 1, 1)


def test_metrics_daily_report_is_written_with_a_table_per_skill_and_per_goal(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given metered runs on a day
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False)
    metrics.record(redis_client, metrics.TaskRun("seo-audit", DAY, 2.0, "goal-20260314-cccccc",
                                             "seo-audit-20260314-dddddd", failed=True,
                                             totals=metrics.Totals(10, 20, Decimal("0.5"))))

    # When the day's report is written
    path = daily_report.write_daily_report(team.rt, DAY)

    # Then it is the dated markdown file with both tables (an unknown goal still gets its row)
    assert path == tmp_path / "ws" / "metrics" / "2026-03-14-report.md"
    text = path.read_text()
    assert text.startswith("# Metrics report 2026-03-14")
    assert "| seo-audit | 1 | 1 | 0 | 2.00 | 10 | 20 | 0.5000 |" in text
    assert "| goal-20260314-cccccc | unknown |" in text
    assert not list(path.parent.glob(".*.tmp"))


def test_metrics_cli_prints_the_day_as_json_and_writes_the_report(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given a metered run on a day
    metrics.record(redis_client, metrics.TaskRun("copywriting", DAY, 1.0, "goal-20260314-eeeeee",
                                             "copywriting-20260314-ffffff",
                                             totals=metrics.Totals(7, 9, Decimal("0.25"))))

    # When `mtctl metrics --day ... --write --json` runs
    env = child_env({"REDIS_URL": redis_server.url, "WORKSPACE_DIR": str(tmp_path / "ws")})
    result = subprocess.run([sys.executable, "-m", "marketing_team", "metrics", "--day", DAY.isoformat(),
                             "--write", "--json"], env=env, capture_output=True, text=True, timeout=60)

    # Then stdout is one JSON object with the skill's counters and the report's path
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["skills"]["copywriting"] == {"runs": 1, "failures": 0, "retries": 0, "duration_s": 1.0,
                                                "tokens_in": 7, "tokens_out": 9, "cost_usd": "0.25"}
    assert Path(printed["report"]).read_text().startswith("# Metrics report 2026-03-14")
