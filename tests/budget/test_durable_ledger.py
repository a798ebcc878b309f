"""Paid work refuses a Redis that would forget the month's spend on a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from marketing_team.testing.processes import child_env, spawn_worker, stop
from marketing_team.testing.servers import RunningServer, start_test_server

KEY = "sk-ant-test-durable-0123456789abcdef"


def _mtctl(url: str, tmp: Path, *args: str, allow: str = "0") -> subprocess.CompletedProcess[str]:
    env = {"REDIS_URL": url, "ANTHROPIC_API_KEY": KEY, "WORKSPACE_DIR": str(tmp / "ws"),
           "MT_ALLOW_VOLATILE_LEDGER": allow}
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=60)


def test_mtctl_refuses_paid_work_on_a_server_without_persistence(
        redis_server: RunningServer, tmp_path: Path) -> None:
    refused = _mtctl(redis_server.url, tmp_path, "goal", "Grow signups", "--detach")
    dry = _mtctl(redis_server.url, tmp_path, "goal", "Grow signups", "--dry-run")  # pays nothing
    allowed = _mtctl(redis_server.url, tmp_path, "goal", "Grow signups", "--detach", allow="1")
    health = _mtctl(redis_server.url, tmp_path, "health")

    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "would lose the budget ledger" in refused.stderr
    assert "MT_ALLOW_VOLATILE_LEDGER=1" in refused.stderr and KEY not in refused.stderr
    assert dry.returncode == 0 and "a dry run calls no model" in dry.stdout
    assert "would lose the budget ledger" not in allowed.stderr
    assert "ledger would not survive a restart" in health.stdout


def test_an_appendonly_server_is_accepted_for_paid_work(tmp_path: Path) -> None:
    durable = start_test_server(tmp_path / "aof", appendonly=True)
    try:
        result = _mtctl(durable.url, tmp_path, "goal", "Grow signups", "--detach")
        health = _mtctl(durable.url, tmp_path, "health")
    finally:
        durable.stop()

    assert "would lose the budget ledger" not in result.stderr
    assert "would not survive" not in health.stdout


def test_a_paid_worker_refuses_to_start_on_a_server_without_persistence(
        redis_server: RunningServer, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis_server.url, "ANTHROPIC_API_KEY": KEY, "WORKSPACE_DIR": str(tmp_path),
           "MT_ALLOW_VOLATILE_LEDGER": "0"}
    worker = spawn_worker(env, tmp_path / "worker.log", name="volatile")
    try:
        code = worker.wait(60)
    finally:
        stop(worker)

    assert code != 0
    assert "would lose the budget ledger" in (tmp_path / "worker.log").read_text()
