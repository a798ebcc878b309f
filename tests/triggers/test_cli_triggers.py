"""`mtctl schedules`, `mtctl events` and `mtctl serve` as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from marketing_team.cli.main import cli
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.values import utcnow
from marketing_team.testing.processes import child_env
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKSPACE_DIR", str(tmp_path / "ws"))
    return tmp_path / "ws"


def _mtctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=120)


def test_cli_schedules_list_shows_each_default_with_its_next_firing(workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["schedules", "list", "--json"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == ["daily-social", "daily-review", "weekly-content",
                                       "weekly-seo", "monthly-cro", "monthly-review"]
    for row in rows:
        assert datetime.fromisoformat(row["next_fire"]) > utcnow() and row["timezone"] == "UTC"
        assert row["enabled"] is True and row["fire_count"] == 0


def test_cli_schedules_list_human_output_names_next_firing(workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["schedules", "list"])

    assert result.exit_code == 0
    assert "weekly-seo" in result.stdout and "next 20" in result.stdout and "0 0 * * 3" in result.stdout


def test_cli_schedules_disable_is_kept_in_redis(redis_client: redis.Redis,
                                                redis_server: RunningServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert CliRunner().invoke(cli, ["schedules", "disable", "weekly-seo"]).exit_code == 0
    assert redis_client.hget("mt:schedule:weekly-seo", "enabled") == b"0"

    result = CliRunner().invoke(cli, ["schedules", "list", "--json"])

    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert rows["weekly-seo"]["enabled"] is False and rows["weekly-content"]["enabled"] is True
    assert CliRunner().invoke(cli, ["schedules", "enable", "weekly-seo"]).exit_code == 0
    assert redis_client.hget("mt:schedule:weekly-seo", "enabled") == b"1"


def test_cli_schedules_disable_without_redis_url_is_kept_by_the_embedded_server(workspace: Path) -> None:
    assert CliRunner().invoke(cli, ["schedules", "disable", "daily-social"]).exit_code == 0

    rows = {r["id"]: r for r in json.loads(CliRunner().invoke(cli, ["schedules", "list", "--json"]).stdout)}

    assert rows["daily-social"]["enabled"] is False


@pytest.mark.parametrize(("args", "message"), [
    (["schedules", "disable", "no-such"], "unknown schedule 'no-such'"),
    (["schedules", "run", "no-such"], "unknown schedule 'no-such'"),
    (["events", "emit", "traffic_drop", "--data", "{oops"], "--data is not valid JSON"),
    (["events", "emit", "traffic_drop", "--data", "[1]"], "--data must be a JSON object"),
    (["serve"], "MT_WEBHOOK_TOKEN"),
])
def test_cli_trigger_commands_refuse_bad_input_in_one_line(workspace: Path, args: list[str],
                                                           message: str) -> None:
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_events_mappings_lists_the_seven_defaults(workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["events", "mappings", "--json"])

    rows = json.loads(result.stdout)
    assert len(rows) == 7
    drop = next(r for r in rows if r["event"] == "traffic_drop")
    assert drop == {"event": "traffic_drop", "pipeline": "SEO Cycle", "priority": "P1",
                    "condition": {"field": "percentageDrop", "op": "gt", "value": 20}, "cooldown_s": 3600}
    human = CliRunner().invoke(cli, ["events", "mappings"]).stdout
    assert "traffic_drop" in human and "if data.percentageDrop gt 20" in human


def test_cli_events_emit_publishes_to_the_workers_and_reports_the_goal(team: Team) -> None:
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace)}

    result = _mtctl("events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}',
                    "--id", "evt-cli-1", "--detach", "--json", env=env)
    again = _mtctl("events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}',
                   "--id", "evt-cli-1", "--detach", "--json", env=env)

    assert result.returncode == 0, result.stderr[-2000:]
    body = json.loads(result.stdout)
    [goal_id] = body["goals"]
    assert json.loads(again.stdout) == {"event_id": "evt-cli-1", "goals": [], "reason": "duplicate",
                                        "cooldowns": []}
    assert team.wait(goal_id, timeout_s=90).status is GoalStatus.COMPLETED


def test_cli_schedules_run_fires_now_on_the_embedded_default(tmp_path: Path) -> None:
    result = _mtctl("schedules", "run", "weekly-content", "--json",
                    env={"WORKSPACE_DIR": str(tmp_path / "ws")})

    assert result.returncode == 0, result.stderr[-2000:]
    body = json.loads(result.stdout)
    assert body["schedule_id"] == "weekly-content" and body["skipped"] is None
    assert body["goal"]["status"] == "completed" and body["goal"]["pipeline"] == "Content Production"
    listed = _mtctl("schedules", "list", "--json", env={"WORKSPACE_DIR": str(tmp_path / "ws")})
    row = next(r for r in json.loads(listed.stdout) if r["id"] == "weekly-content")
    assert row["fire_count"] == 1 and row["last_goal_id"] == body["goal_id"]


def test_cli_events_emit_refused_by_a_cooldown_says_the_seconds_left_and_the_end(team: Team) -> None:
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace)}
    _mtctl("events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}', "--detach", env=env)

    again = _mtctl("events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}',
                   "--detach", env=env)
    as_json = _mtctl("events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}',
                     "--detach", "--json", env=env)

    line = again.stderr.strip().splitlines()[-1]
    assert re.search(r"cooldown of SEO Cycle: (35\d\d|3600) s left, until 20\d\d-", line), line
    [cooldown] = json.loads(as_json.stdout)["cooldowns"]
    assert cooldown["pipeline"] == "SEO Cycle" and 3500 < cooldown["remaining_s"] <= 3600
