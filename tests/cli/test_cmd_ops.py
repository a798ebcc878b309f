"""`mtctl health` and `mtctl metrics` on the embedded default: no REDIS_URL, no `mtctl up`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketing_team.observability.metrics import today
from marketing_team.testing.processes import child_env


def _mtctl(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env({"WORKSPACE_DIR": str(workspace), "MT_LLM_PROVIDER": "offline"})
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def after_a_goal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace in which one embedded goal completed (its server and worker gone again)."""
    workspace = tmp_path_factory.mktemp("embedded") / "ws"
    done = _mtctl(workspace, "goal", "Write a blog post about onboarding", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    yield workspace


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_health_after_an_embedded_goal_is_full_and_says_goals_bring_their_own_worker(
        after_a_goal: Path) -> None:
    # When health is checked between commands, on the embedded default
    result = _mtctl(after_a_goal, "health", "--json")
    text = _mtctl(after_a_goal, "health")

    # Then the store answers, no worker between commands is expected, and the level is full
    report = _json(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["level"] == "full" and report["mode"] == "embedded"
    assert report["components"]["redis"] == "ok"
    assert report["components"]["workers"] == "on demand"
    assert "in-process worker" in report["details"]["workers"]
    assert report["components"]["budget"] == "normal"
    # And the text says so in words, without the word the offline provider already uses
    assert text.returncode == 0 and text.stdout.startswith("level: full")
    assert "embedded" in text.stdout and "offline" not in text.stdout


def test_metrics_on_the_embedded_default_count_the_goal_and_its_reports_are_in_the_folder(
        after_a_goal: Path) -> None:
    result = _mtctl(after_a_goal, "metrics", "--json")

    assert result.returncode == 0, result.stderr[-2000:]
    skills = _json(result)["skills"]
    assert skills["product-marketing-context"]["runs"] >= 1
    day = today("UTC").isoformat()
    assert (after_a_goal / "metrics" / f"{day}-report.md").is_file()
    assert (after_a_goal / "metrics" / f"{day}-costs.md").is_file()
