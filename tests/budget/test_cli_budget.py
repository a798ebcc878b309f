"""`mtctl budget`: the human summary and the `--json` contract for scripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from budget_support import wait_until
from click.testing import CliRunner

from marketing_team.budget.ledger import Ledger, month_of
from marketing_team.cli.main import cli
from marketing_team.domain.values import utcnow
from marketing_team.testing.servers import RunningServer, free_port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_server: RunningServer) -> Path:
    """REDIS_URL on the test server, a $10 month, a fresh workspace."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("BUDGET_MONTHLY", "10")
    monkeypatch.setenv("WORKSPACE_DIR", str(tmp_path / "ws"))
    return tmp_path / "ws"


def _spend(client: redis.Redis) -> str:
    book = Ledger(client)
    now = utcnow()
    book.record(4_000_000, goal_id="goal-20261125-aaaaaa", skill="copywriting", model="claude-sonnet-5",
                when=now)
    book.record(4_500_000, goal_id="goal-20261125-aaaaaa", skill="content-strategy",
                model="claude-opus-5", when=now)
    return month_of(now)


def test_cli_budget_json_reports_level_spent_budget_and_remaining(env: Path, redis_client: redis.Redis) -> None:
    month = _spend(redis_client)

    result = CliRunner().invoke(cli, ["budget", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["level"] == "warning"
    assert (data["spent_usd"], data["budget_usd"], data["remaining_usd"]) == (8.5, 10.0, 1.5)
    assert data["month"] == month and data["share_pct"] == 85.0 and data["calls"] == 2
    assert data["by_skill"] == {"content-strategy": 4.5, "copywriting": 4.0}
    assert data["by_model"] == {"claude-opus-5": 4.5, "claude-sonnet-5": 4.0}
    assert data["by_day"] == {f"{utcnow():%Y-%m-%d}": 8.5}
    assert data["source"] == "redis"


def test_cli_budget_prints_a_human_summary(env: Path, redis_client: redis.Redis) -> None:
    _spend(redis_client)

    result = CliRunner().invoke(cli, ["budget"])

    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert "$8.50 of $10.00 spent (85.0%), level warning; $1.50 left" in first
    assert "content-strategy" in result.output and "claude-opus-5" in result.output


def test_cli_budget_month_option_reads_a_past_month(env: Path, redis_client: redis.Redis) -> None:
    Ledger(redis_client).record(2_000_000, when=datetime(2026, 1, 15, tzinfo=UTC))

    result = CliRunner().invoke(cli, ["budget", "--json", "--month", "2026-01"])

    assert json.loads(result.stdout)["spent_usd"] == 2.0
    bad = CliRunner().invoke(cli, ["budget", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_cli_budget_on_a_fresh_workspace_reports_nothing_spent(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("WORKSPACE_DIR", str(tmp_path / "fresh"))

    result = CliRunner().invoke(cli, ["budget", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["level"], data["spent_usd"], data["remaining_usd"], data["source"]) == (
        "normal", 0.0, 1000.0, "embedded")


def test_cli_budget_unreachable_redis_is_one_line_and_non_zero(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("WORKSPACE_DIR", str(tmp_path / "ws"))

    result = CliRunner().invoke(cli, ["budget", "--json"])

    assert result.exit_code == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "unreachable" in result.stderr and "s3cret" not in result.output
    assert json.loads(result.stdout)["exit_code"] == 3  # --json: one object on stdout, even now


def test_cli_budget_without_redis_url_reads_the_embedded_server_s_ledger(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from marketing_team.ops.embedded import EmbeddedServer

    workspace = tmp_path / "ws"
    monkeypatch.setenv("WORKSPACE_DIR", str(workspace))
    # Given the embedded server `mtctl up` runs (append-only), with money spent through it
    with EmbeddedServer(workspace / ".state", appendonly=True) as server:
        client = redis.Redis.from_url(server.redis_url)
        Ledger(client).record(3_000_000, skill="copywriting", model="claude-sonnet-5")
        client.close()
        live = json.loads(CliRunner().invoke(cli, ["budget", "--json"]).stdout)

    # When it has stopped, the command reads its data by starting it just long enough
    stopped = CliRunner().invoke(cli, ["budget", "--json"])

    assert stopped.exit_code == 0, stopped.output
    assert (live["spent_usd"], live["source"]) == (3.0, "embedded")
    assert json.loads(stopped.stdout)["spent_usd"] == 3.0
    assert not EmbeddedServer(workspace / ".state").socket_path.exists()  # and stopped it again


def test_cli_budget_says_what_was_charged_for_holds_of_workers_that_vanished(
        env: Path, redis_client: redis.Redis) -> None:
    book = Ledger(redis_client, lease_s=1)
    assert book.reserve(2_000_000, budget=10_000_000, goal_id="goal-20261125-bbbbbb").outcome == "granted"
    # the holder never settles; a later reservation finds the hold lapsed and charges it
    wait_until(lambda: book.reserve(0, budget=10_000_000).held == 0, "the hold to lapse", timeout_s=5)

    data = json.loads(CliRunner().invoke(cli, ["budget", "--json"]).stdout)
    human = CliRunner().invoke(cli, ["budget"]).output

    assert (data["spent_usd"], data["lapsed_usd"], data["reserved_usd"]) == (2.0, 2.0, 0.0)
    assert data["by_skill"] == {"(lapsed hold)": 2.0}
    assert "$2.0000 of it charged at the bound of holds whose worker vanished" in human
