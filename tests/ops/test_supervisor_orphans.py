"""`mtctl up` killed outright leaves no child behind, and a second one never runs a duplicate worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.llm.offline import OfflineProvider
from marketing_team.observability.processes import is_alive
from marketing_team.ops.orphans import reap_leftovers
from marketing_team.orchestration.beat import heartbeat_age
from marketing_team.testing.processes import REPO_ROOT, child_env, spawn_worker, stop, wait_for
from marketing_team.testing.servers import RunningServer, free_port
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import health_answers
from tests.ops.conftest import Launch, json_lines


@pytest.fixture
def team(server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """The test's side of the team, without a worker of its own: only `mtctl up`'s workers answer."""
    with Team(server, tmp_path / "ws", OfflineProvider(), worker=False) as t:
        yield t


def _up(launch: Launch, team: Team, name: str, *args: str) -> subprocess.Popen[bytes]:
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
           "MT_LLM_PROVIDER": "offline", "MAX_PARALLEL_AGENTS": "2",
           "MT_WEBHOOK_TOKEN": "hook-token-orphans-1234"}
    return launch([sys.executable, "-m", "marketing_team", "up", "--grace", "5", *args], env, name)


def _started(log: Path) -> dict[str, int]:
    """The pid of the latest start of each child, from the supervisor's JSON log."""
    return {r["child"]: r["pid"] for r in json_lines(log) if r.get("event") == "child_started"}



def _workers(team: Team) -> list[str]:
    return sorted(name for reply in team.app.control.ping(timeout=1.0) or [] for name in reply)


def test_up_killed_with_sigkill_takes_its_children_along_and_the_next_up_runs_one_worker(
        team: Team, launch: Launch, tmp_path: Path) -> None:
    # Given `mtctl up` with worker, beat and web running
    port = free_port()
    up = _up(launch, team, "up1", "--bind", f"127.0.0.1:{port}")
    wait_for(lambda: _workers(team), 30, "the worker to answer ping")
    wait_for(lambda: heartbeat_age(team.rt.redis) is not None, 30, "the beat heartbeat")
    wait_for(lambda: health_answers(port), 30, "the web app's /health")
    children = _started(tmp_path / "up1.err")
    assert set(children) == {"worker", "beat", "web"}

    # When `mtctl up` alone is killed outright (not its process group)
    os.kill(up.pid, signal.SIGKILL)
    up.wait(10)

    # Then every child dies with it
    wait_for(lambda: not [pid for pid in children.values() if is_alive(pid)], 20,
             f"the children {children} to die with their supervisor")

    # And the next `mtctl up` on the same port runs exactly one worker and a web that answers
    again = _up(launch, team, "up2", "--bind", f"127.0.0.1:{port}")
    wait_for(lambda: health_answers(port), 30, "the new web app's /health")
    assert len(wait_for(lambda: _workers(team), 30, "the new worker")) == 1
    assert again.poll() is None
    assert not [r for r in json_lines(tmp_path / "up2.err") if r.get("event") == "child_exited"]


def test_up_refuses_to_start_when_a_worker_with_its_node_name_already_answers(
        team: Team, launch: Launch, tmp_path: Path) -> None:
    # Given a worker named like `mtctl up`'s (celery@<this host>) answering on the broker
    env = {"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
           "MT_LLM_PROVIDER": "offline"}
    other = spawn_worker(env, tmp_path / "other.log", concurrency=1, name="celery")
    try:
        node = f"celery@{socket.gethostname()}"
        wait_for(lambda: node in _workers(team), 30, f"{node} to answer ping")

        # When `mtctl up` starts on the same broker
        up = _up(launch, team, "up", "--no-web", "--no-beat")
        code = wait_for(lambda: up.poll() is not None and (up.returncode,), 30, "mtctl up to refuse")[0]
    finally:
        stop(other)

    # Then it exits non-zero with one line naming the node, and started nothing
    assert code != 0
    err = (tmp_path / "up.err").read_text().strip().splitlines()
    refusal = [line for line in err if node in line]
    assert len(refusal) == 1 and "already" in refusal[0], err
    assert "Traceback" not in "\n".join(err)
    assert not [line for line in err if "child_started" in line]


_SUPERVISE = textwrap.dedent("""
    import signal, sys
    from pathlib import Path
    from marketing_team.ops.supervisor import ChildSpec, Supervisor
    # The child ignores every signal a dying parent may send, as a stuck process would.
    stubborn = ("import signal\\n"
                "for s in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT, signal.SIGHUP):\\n"
                "    signal.signal(s, signal.SIG_IGN)\\n"
                "open(sys.argv[1], 'w').close()\\n"
                "signal.pause()  # until SIGKILL: every other signal is ignored\\n")
    Supervisor([ChildSpec("stubborn", (sys.executable, "-c", "import sys\\n" + stubborn, sys.argv[2]))],
               {}, pidfile=Path(sys.argv[1])).run()
""")


def test_up_reaps_a_child_that_outlived_a_killed_supervisor_on_the_next_start(tmp_path: Path) -> None:
    # Given a supervisor whose child ignores the parent-death signal
    pidfile = tmp_path / "children.pid"
    env = child_env({"PATH": os.environ.get("PATH", "")})
    ready = tmp_path / "ignoring"
    sup = subprocess.Popen([sys.executable, "-c", _SUPERVISE, str(pidfile), str(ready)], env=env,
                           cwd=REPO_ROOT, start_new_session=True)
    try:
        child = wait_for(lambda: pidfile.exists() and _recorded(pidfile), 30, "the child to be recorded")
        wait_for(ready.exists, 30, "the child to ignore its signals")

        # When the supervisor is killed outright: the child survives it
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait(10)
        assert is_alive(child)

        # Then the next start stops the leftover it recorded before starting anything
        reaped = reap_leftovers(pidfile, grace_s=1.0)
        assert reaped == [child] and not is_alive(child)
        assert not pidfile.exists()
    finally:
        stop(sup, signal.SIGKILL)


def _recorded(pidfile: Path) -> int | None:
    for line in pidfile.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "stubborn":
            return int(fields[1])
    return None
