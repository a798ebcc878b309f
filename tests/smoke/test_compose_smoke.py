"""Smoke suite on containers: the docker-compose deployment runs a goal end to end.

Runs only where a Docker engine answers (`pytest -m smoke tests/smoke`); elsewhere every test
skips with the reason. It builds the image, starts redis, worker, beat and web, publishes a goal
to those workers through `mtctl goal --detach` inside the web container, and waits for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.testing.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.smoke


def _docker_ready() -> str | None:
    """None when `docker compose` can reach an engine, else why not."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "no Docker engine answers (`docker info` failed)"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return None if compose.returncode == 0 else "the docker compose plugin is missing"


def _compose(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "compose", "-p", "mt-smoke", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={"MT_WEBHOOK_TOKEN": "smoke-token", "MT_FLOWER_PASSWORD": "smoke",
                               "PATH": "/usr/local/bin:/usr/bin:/bin"})


@pytest.fixture(scope="module")
def deployment() -> Iterator[None]:
    """The compose stack, up for the module and torn down (with its volumes) after."""
    reason = _docker_ready()
    if reason:
        pytest.skip(reason)
    up = _compose("up", "-d", "--build", "redis", "worker", "beat", "web")
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        yield
    finally:
        _compose("down", "-v", timeout=300)


def test_smoke_compose_runs_a_goal_on_its_workers(deployment: None) -> None:
    started = _compose("exec", "-T", "web", "mtctl", "goal", "Increase signup conversion by 20%",
                       "--detach", "--json", timeout=120)
    assert started.returncode == 0, started.stderr[-2000:]
    goal_id = json.loads(started.stdout)["goal_id"]

    def settled() -> str | None:
        shown = _compose("exec", "-T", "web", "mtctl", "goals", "show", goal_id, "--json", timeout=60)
        status = json.loads(shown.stdout)["status"] if shown.returncode == 0 else ""
        return status if status in ("completed", "failed", "waiting_human") else None

    assert wait_for(settled, 300, f"goal {goal_id}", every_s=2.0) == "completed"
