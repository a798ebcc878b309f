"""Fixtures for operations tests: a private appendonly server, the Procfile, and real child processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marketing_team.testing.processes import REPO_ROOT, child_env, stop
from marketing_team.testing.servers import RunningServer, start_test_server

Launch = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of this test's own (appendonly, so a restart keeps queued work), stopped at the end."""
    srv = start_test_server(tmp_path / "server", appendonly=True)
    try:
        yield srv
    finally:
        srv.stop()


def procfile() -> dict[str, str]:
    """The Procfile's process types and commands."""
    entries = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def venv_path() -> str:
    """PATH with this interpreter's bin dir first, so `celery` and `gunicorn` are ours."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start commands in their own process group (stdout and stderr to files); all stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        full = child_env({"PATH": venv_path(), **env})
        with (tmp_path / f"{name}.out").open("wb") as out, (tmp_path / f"{name}.err").open("wb") as err:
            proc = subprocess.Popen(argv, env=full, cwd=tmp_path, stdout=out, stderr=err,
                                    start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> None:
    """Signal the process group, wait, SIGKILL it if it lingers (the harness's stop)."""
    stop(proc, sig, timeout_s)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every non-empty line of a log file parsed as JSON (a non-JSON line fails the test, quoted)."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON log line in {path.name}: {line[:300]}")
    return records
