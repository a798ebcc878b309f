"""Specification of the embedded server: start, stop, reap orphans, never touch strangers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from kombu import Connection

from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.ops.embedded import EmbeddedServer, is_alive, is_server_for, ping

REPO_ROOT = Path(__file__).resolve().parents[1]

# A CLI-shaped child: signal handlers, start, report the server pid, block until told to go.
CHILD = """
import sys
from pathlib import Path
from marketing_team.ops.embedded import EmbeddedServer, install_signal_handlers
install_signal_handlers()
server = EmbeddedServer(Path(sys.argv[1]))
try:
    server.start()
    import redis
    redis.Redis.from_url(server.redis_url).set("left-by", "child")
    print(server.pid, flush=True)
    sys.stdin.read()
finally:
    server.stop()
"""


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state dir whose server, if any test leaves one, is stopped afterwards."""
    path = tmp_path / "state"
    yield path
    # start() stops any server a failing test left running; leaving the block stops its own.
    with EmbeddedServer(path):
        pass


def start_child(state_dir: Path) -> tuple[subprocess.Popen[str], int]:
    """Run CHILD against state_dir and return it with the pid of the server it started."""
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip().isdigit(), f"child did not start a server (exit {child.wait()})"
    return child, int(line)


def kill_child(child: subprocess.Popen[str]) -> None:
    """SIGKILL the child, as an OOM killer or `kill -9` would, leaving its server orphaned."""
    child.kill()
    child.wait()
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


def test_embedded_server_answers_ping_on_its_urls(state_dir: Path) -> None:
    with EmbeddedServer(state_dir) as server:
        assert server.broker_url.startswith("redis+socket:///")
        assert len(str(server.socket_path)) < 100
        assert redis.Redis.from_url(server.redis_url).ping()
        with Connection(server.broker_url) as conn:
            conn.ensure_connection(max_retries=1)


def test_embedded_server_start_returns_the_broker_url(state_dir: Path) -> None:
    server = EmbeddedServer(state_dir)
    try:
        assert server.start() == server.broker_url
        assert server.start() == server.broker_url  # a second start is a no-op
    finally:
        server.stop()


def test_embedded_server_stop_removes_socket_and_pidfile(state_dir: Path) -> None:
    server = EmbeddedServer(state_dir)
    server.start()
    pid = server.pid
    assert pid is not None and server.pidfile.exists() and server.socket_path.exists()

    server.stop()

    assert not server.pidfile.exists()
    assert not server.socket_path.exists()
    assert not is_alive(pid)
    server.stop()  # idempotent


def test_embedded_server_is_broker_and_backend_for_celery(state_dir: Path) -> None:
    with EmbeddedServer(state_dir) as server:
        app = Celery("t", broker=server.broker_url, backend=server.broker_url)

        @app.task
        def add(a: int, b: int) -> int:
            return a + b

        with start_worker(app, pool="threads", perform_ping_check=False, loglevel="WARNING"):
            assert add.delay(2, 3).get(timeout=10) == 5


def test_embedded_server_orphaned_by_sigkill_is_stopped_by_next_start(state_dir: Path) -> None:
    child, orphan = start_child(state_dir)
    kill_child(child)
    assert is_server_for(orphan, EmbeddedServer(state_dir).socket_path)

    with EmbeddedServer(state_dir) as server:
        assert server.pid != orphan and not server.reused
        assert not is_alive(orphan)
        assert redis.Redis.from_url(server.redis_url).get("left-by") is None


def test_embedded_server_orphaned_by_sigkill_is_reused_when_asked(state_dir: Path) -> None:
    child, orphan = start_child(state_dir)
    kill_child(child)

    with EmbeddedServer(state_dir, reuse=True) as server:
        assert server.pid == orphan and server.reused
        assert redis.Redis.from_url(server.redis_url).get("left-by") == b"child"

    assert not is_alive(orphan)


def test_embedded_server_refuses_a_state_dir_whose_owner_is_alive(state_dir: Path) -> None:
    child, server_pid = start_child(state_dir)
    try:
        with pytest.raises(BrokerUnavailableError, match="in use by process"):
            EmbeddedServer(state_dir).start()
        assert is_alive(server_pid)
    finally:
        kill_child(child)


def test_embedded_server_is_stopped_when_its_parent_gets_sigterm(state_dir: Path) -> None:
    child, server_pid = start_child(state_dir)
    socket_path = EmbeddedServer(state_dir).socket_path

    child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=10)
    kill_child(child)

    assert code == 128 + signal.SIGTERM
    assert not is_alive(server_pid)
    assert not socket_path.exists() and not (state_dir / "server.pid").exists()


def test_embedded_server_ignores_a_stale_pidfile_of_a_dead_pid(state_dir: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    state_dir.mkdir()
    (state_dir / "server.pid").write_text(f"{dead.pid}\n{dead.pid}\n")

    with EmbeddedServer(state_dir) as server:
        assert server.pid != dead.pid
        assert (state_dir / "server.pid").read_text().split()[0] == str(server.pid)


def test_embedded_server_never_kills_an_unrelated_process_in_its_pidfile(state_dir: Path) -> None:
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        state_dir.mkdir()
        (state_dir / "server.pid").write_text(f"{stranger.pid}\n{stranger.pid}\n")

        with EmbeddedServer(state_dir) as server:
            assert server.pid != stranger.pid

        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_embedded_server_with_appendonly_keeps_keys_across_restart(state_dir: Path) -> None:
    with EmbeddedServer(state_dir, appendonly=True) as server:
        redis.Redis.from_url(server.redis_url).lpush("celery", "queued message")

    with EmbeddedServer(state_dir, appendonly=True) as server:
        assert redis.Redis.from_url(server.redis_url).lrange("celery", 0, -1) == [b"queued message"]


def test_embedded_server_start_failure_is_a_one_line_broker_error(state_dir: Path) -> None:
    manifest = state_dir / "data" / "appendonlydir" / "appendonly.aof.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("garbage\n")
    server = EmbeddedServer(state_dir, appendonly=True)

    with pytest.raises(BrokerUnavailableError, match="Invalid AOF manifest") as caught:
        server.start()

    assert "\n" not in str(caught.value)
    assert server.pid is None and not server.pidfile.exists()
    assert not ping(str(server.socket_path))
