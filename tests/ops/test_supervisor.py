"""`mtctl up`: a killed child comes back within seconds, a server restart costs no goal, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from marketing_team.domain import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.supervisor import ChildSpec, Policy, Supervisor
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from tests.ops.conftest import Launch, json_lines

GOAL = "Increase signup conversion by 20%"


def _started(log: Path, child: str) -> list[int]:
    """Pids of each start of child, in order, from the supervisor's JSON log."""
    return [r["pid"] for r in json_lines(log) if r.get("event") == "child_started" and r.get("child") == child]


def _up(launch: Launch, team: Team, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
           "MT_LLM_PROVIDER": "offline", "MAX_PARALLEL_AGENTS": "4", **extra}
    return launch([sys.executable, "-m", "marketing_team", "up", "--no-web", "--grace", "5", *args],
                  env, "up")


def _pong(team: Team) -> bool:
    return bool(team.app.control.ping(timeout=0.5, limit=1))


@pytest.fixture
def team(server: RunningServer, tmp_path: Path) -> Any:
    """The test's side of the team: publishes goals and reads their state; `mtctl up` runs the work."""
    with Team(server, tmp_path / "ws", OfflineProvider(), worker=False) as t:
        yield t


def test_up_restarts_a_killed_worker_within_seconds_and_a_goal_completes(
        team: Team, launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` with its worker answering
    up = _up(launch, team)
    wait_for(lambda: _pong(team), 30, "the worker to answer ping")
    [first] = _started(tmp_path / "up.err", "worker")

    # When the worker is killed outright
    killed_at = time.monotonic()
    os.kill(first, signal.SIGKILL)
    pids = wait_for(lambda: (p := _started(tmp_path / "up.err", "worker")) and len(p) > 1 and p, 15,
                    "a second worker start")
    wait_for(lambda: _pong(team), 30, "the new worker to answer ping")
    back_after = time.monotonic() - killed_at

    # Then it was restarted within seconds, and a goal still runs to completion
    assert pids[1] != first and up.poll() is None
    assert back_after < 10, f"worker answered again only after {back_after:.1f} s"
    goal = team.goal(GOAL)
    assert team.wait(goal.id, timeout_s=45).status is GoalStatus.COMPLETED


@pytest.mark.slow  # work in flight at the restart returns after the visibility timeout (105 s here)
def test_up_goal_completes_after_the_server_restarts_mid_goal(
        team: Team, server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` working on a goal, with the shortest time limits (the visibility timeout,
    # after which unacknowledged work is redelivered, is 3 x the hard limit)
    _up(launch, team, MT_SOFT_TIME_LIMIT="5", MT_HARD_TIME_LIMIT="35")
    wait_for(lambda: _pong(team), 30, "the worker to answer ping")
    goal = team.goal(GOAL)
    wait_for(lambda: any(t.status.is_terminal for t in team.rt.goals.load(goal.id).tasks), 20,
             "the first task to finish")

    # When the server restarts (its appendonly file keeps queued and unacknowledged work)
    started = time.monotonic()
    server.restart()

    # Then the goal still completes once the server is back
    done = team.wait(goal.id, timeout_s=300)
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    print(f"goal completed {time.monotonic() - started:.1f} s after the restart")


def test_up_sigint_stops_every_child_and_exits_cleanly(team: Team, launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` with worker and beat running
    up = _up(launch, team)
    wait_for(lambda: _pong(team), 30, "the worker to answer ping")
    pids = [_started(tmp_path / "up.err", name)[0] for name in ("worker", "beat")]

    # When it gets Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it)
    os.killpg(up.pid, signal.SIGINT)

    # Then it exits 0 and no child survives
    assert up.wait(30) == 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    events = [r.get("event") for r in json_lines(tmp_path / "up.err")]
    assert "stopping" in events and events.count("child_stopped") == 2


def test_supervisor_gives_up_on_a_crash_loop_naming_the_child(tmp_path: Path) -> None:
    # Given a child that exits at once, every time
    crash = ChildSpec("crasher", (sys.executable, "-c", "raise SystemExit(3)"))
    supervisor = Supervisor([crash], dict(os.environ), Policy(max_fast_exits=2, stable_after_s=30))

    # When it is supervised
    started = time.monotonic()
    code = supervisor.run()

    # Then it was restarted with backoff, then given up on with a reason naming it
    assert code == 1
    assert supervisor.failure is not None and "crasher exited 3 times" in supervisor.failure
    assert "exit code 3" in supervisor.failure
    assert time.monotonic() - started >= 1.5  # backoff 0.5 s then 1 s between the three starts
