"""Helpers for the trigger tests: a probe catalog, beat processes, a gated LLM."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.protocol import Message, Reply, RequestMeter, SystemBlock
from marketing_team.testing.processes import child_env
from marketing_team.testing.processes import wait_for as harness_wait_for
from marketing_team.testing.servers import RunningServer


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll predicate until it returns something truthy; fail the test at the deadline."""
    try:
        return harness_wait_for(predicate, timeout_s, what)
    except TimeoutError as exc:
        pytest.fail(str(exc))


PROBE_CATALOG = {
    "schedules.yaml": """schedules:
  - id: probe
    cron: "0 0 1 1 *"
    kind: pipeline
    target: Probe
    priority: P2
  - id: probe-urgent
    cron: "0 0 1 1 *"
    kind: pipeline
    target: Probe
    priority: P1
""",
    "pipelines.yaml": """pipelines:
  - name: Probe
    description: "One quick skill, for schedule tests."
    category: content
    priority: P2
    steps:
      - skill: marketing-ideas
""",
}


def probe_catalog(root: Path) -> Path:
    """A catalog override dir adding the yearly `probe` schedules (P2 and P1) and a one-step pipeline."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in PROBE_CATALOG.items():
        (root / name).write_text(text)
    return root


def start_beat(server: RunningServer, catalog: Path, workspace: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`celery -A marketing_team beat -S marketing_team.orchestration.beat:Scheduler` against the test server."""
    env = child_env({"REDIS_URL": server.url, "MT_CATALOG_DIR": str(catalog),
                     "WORKSPACE_DIR": str(workspace), "MT_LLM_PROVIDER": "offline"})
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketing_team", "beat", "-S",
             "marketing_team.orchestration.beat:Scheduler", "--loglevel", "INFO"],
            cwd=log_path.parent, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a subprocess we started: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class GatedLLM:
    """The offline provider behind a gate: calls wait until the test opens it (keeps a goal running)."""

    name = "offline"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self._inner = OfflineProvider()

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None,
                 meter: RequestMeter | None = None) -> Reply:
        """Wait for the gate (at most 60 s, so a failed test cannot hang), then answer offline."""
        if not self.gate.wait(60):
            raise TimeoutError("the test never opened the gate")
        return self._inner.complete(system_blocks, messages, model, max_tokens, schema)
