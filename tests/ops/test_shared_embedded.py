"""Several `mtctl goal` runs in one workspace share one embedded server; the last one out stops
it (issue 18, item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from marketing_team.ops.embedded import EmbeddedServer, ping
from marketing_team.testing.processes import child_env

TEXTS = ("Increase signup conversion by 20%", "Write a launch announcement for our API",
         "Plan a content calendar for Q1", "Improve our pricing page",
         "Grow the newsletter to 10k readers", "Reduce churn in the first week")


def _start(workspace: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "marketing_team", *args],
                            env=child_env({"WORKSPACE_DIR": str(workspace)}), cwd=workspace.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_goals_in_one_workspace_all_complete_on_one_server_that_stops_after_the_last(
        tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    runs = [_start(workspace, "goal", text, "--json") for text in TEXTS]
    results = [(run, *run.communicate(timeout=240)) for run in runs]

    for run, out, err in results:
        assert run.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "completed"
        assert "in use by process" not in err and "unknown server" not in err
    server = EmbeddedServer(workspace / ".state")
    assert not ping(str(server.socket_path))  # the last one out stopped it
    assert not server.pidfile.exists()


def test_a_second_terminal_reads_and_cancels_while_a_goal_runs(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    first = _start(workspace, "pipeline", "Content Production", "--json")
    try:
        listed = subprocess.run(
            [sys.executable, "-m", "marketing_team", "goals", "list", "--json"],
            env=child_env({"WORKSPACE_DIR": str(workspace)}), capture_output=True, text=True,
            timeout=60)
        out, err = first.communicate(timeout=240)
    finally:
        first.kill()
    assert listed.returncode == 0, listed.stderr
    assert first.returncode == 0, err[-2000:]
    assert not ping(str(EmbeddedServer(workspace / ".state").socket_path))


def test_a_stale_registration_whose_pid_was_recycled_does_not_keep_the_server_alive(
        tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    users = workspace / ".state" / "users"
    users.mkdir(parents=True)
    # A command killed long ago; its pid now belongs to a live process started at another time.
    (users / str(os.getpid())).write_text("1")

    run = _start(workspace, "goal", TEXTS[0], "--json")
    out, err = run.communicate(timeout=240)

    assert run.returncode == 0, err[-2000:]
    assert not ping(str(EmbeddedServer(workspace / ".state").socket_path))
