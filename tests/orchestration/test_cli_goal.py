"""`mtctl goal`, `pipeline` and `goals` as a user runs them: output contract, bad input, nothing half-written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from marketing_team.cli.main import cli
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import RunningServer


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKSPACE_DIR", str(tmp_path / "ws"))
    return tmp_path / "ws"


def _mtctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env or {}),
                          capture_output=True, text=True, timeout=120)


def test_cli_goal_on_embedded_default_prints_json_contract_and_exits_zero(tmp_path: Path) -> None:
    result = _mtctl("goal", "Increase signup conversion by 20%", "--json",
                    env={"WORKSPACE_DIR": str(tmp_path / "ws")})

    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)  # the JSON object alone on stdout
    assert data["status"] == "completed" and data["provider"] == "offline"
    assert data["phases"] >= 3 and data["tasks"]["total"] == data["tasks"]["approved"]
    assert data["tasks"]["failed"] == 0 and data["cost_usd"] == 0
    assert Path(data["folder"]).is_absolute() and (Path(data["folder"]) / "summary.md").is_file()
    assert data["goal_id"].startswith("goal-") and data["duration_s"] > 0


def test_cli_goal_human_output_shows_progress_on_stderr_and_summary(tmp_path: Path) -> None:
    result = _mtctl("pipeline", "SEO Cycle", env={"WORKSPACE_DIR": str(tmp_path / "ws")})

    assert result.returncode == 0, result.stderr[-2000:]
    assert "seo-audit: approved (score" in result.stderr and "phase 1/" in result.stderr
    assert "completed" in result.stdout and "folder:" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["goal", "   "], "goal text is empty"),
    (["pipeline", "No Such Template"], "unknown pipeline template"),
    (["goals", "show", "goal-20260101-abcdef"], "unknown goal"),
    (["goals", "resume", "goal-20260101-abcdef"], "unknown goal"),
    (["goals", "cancel", "../../etc"], "malformed goal id"),
])
def test_cli_bad_input_is_one_line_nonzero_and_writes_nothing(
        workspace: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output
    assert not (workspace / "goals").exists() or not any((workspace / "goals").iterdir())


def test_cli_unknown_category_is_rejected_by_name(workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "Grow", "--category", "astrology"])
    assert result.exit_code == 2 and "astrology" in result.output


def test_cli_dry_run_prints_plan_and_estimate_and_writes_nothing(workspace: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "Increase signup conversion by 20%", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "Estimated cost: $0.0000" in result.output and "analytics-tracking" in result.output
    assert not (workspace / "goals").exists()


def test_cli_invalid_setting_names_the_variable(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_MONTHLY", "lots")
    result = CliRunner().invoke(cli, ["goal", "Grow signups"])
    assert result.exit_code == 2 and "BUDGET_MONTHLY" in result.output


def test_cli_unreachable_redis_says_so_with_masked_url(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2secret@127.0.0.1:1/0")
    result = CliRunner().invoke(cli, ["goal", "Grow signups", "--detach"])

    assert result.exit_code == 3
    assert "127.0.0.1:1" in result.output and "hunter2secret" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_goal_without_any_worker_is_refused_with_the_reason(
        redis_server: RunningServer, redis_client: object, tmp_path: Path) -> None:
    result = _mtctl("goal", "Grow signups", env={"WORKSPACE_DIR": str(tmp_path / "ws"),
                                                 "REDIS_URL": redis_server.url})

    assert result.returncode == 4
    assert "not dispatched" in result.stderr and "no worker answers" in result.stderr
    assert not (tmp_path / "ws" / "goals").exists() or not any((tmp_path / "ws" / "goals").iterdir())


def test_cli_goal_json_stopped_by_sigterm_still_prints_one_json_object(tmp_path: Path) -> None:
    with FakeAnthropic(responder=lambda request: FakeReply.slow(20.0)) as fake:
        env = child_env({"ANTHROPIC_API_KEY": "sk-ant-test-sigterm-0123456789", "ANTHROPIC_BASE_URL": fake.url,
                         "WORKSPACE_DIR": str(tmp_path / "ws"), "MT_LLM_MAX_RETRIES": "0"})
        proc = subprocess.Popen([sys.executable, "-m", "marketing_team", "goal", "Grow signups",
                                 "--category", "content", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: fake.requests or proc.poll() is not None, 60, "the first model request")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)

    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert json.loads(out) == {"status": "error", "error": f"stopped by signal {signal.SIGTERM}",
                               "exit_code": 128 + signal.SIGTERM}
