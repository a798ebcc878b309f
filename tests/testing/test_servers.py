"""Specification of the test-harness servers and their pytest fixtures."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection

from marketing_team.ops.embedded import is_alive, ping
from marketing_team.testing.servers import RunningServer, server_binary, start_test_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A private appendonly server on a loopback port, stopped after the test."""
    running = start_test_server(tmp_path, appendonly=True)
    yield running
    running.stop()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory short enough for AF_UNIX socket paths (pytest's tmp_path can exceed 100)."""
    path = Path(tempfile.mkdtemp(prefix="mt-test-", dir="/tmp"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_a_test_server_listens_outside_the_ports_clients_are_given(server: RunningServer) -> None:
    # A client's own end of a connection gets a port from the kernel's ephemeral range: while a
    # crash test's server is down, any connection on the machine could take its port, and the
    # restart on that same port would then fail to bind.
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert not low <= server.port <= high
    server.kill()
    server.start()  # same port, same data
    assert ping(("127.0.0.1", server.port))


def test_server_binary_is_redis_server_from_path_or_valkey() -> None:
    binary = server_binary()
    assert binary.name in ("redis-server", "valkey-server")
    assert os.access(binary, os.X_OK)


def test_test_server_answers_on_url_and_broker_url(server: RunningServer) -> None:
    assert server.url.startswith("redis://127.0.0.1:")
    assert redis.Redis.from_url(server.url).ping()
    with Connection(server.broker_url) as conn:
        conn.ensure_connection(max_retries=1)


def test_test_server_on_a_unix_socket_serves_redis_py_and_kombu(short_dir: Path) -> None:
    running = start_test_server(short_dir, unix_socket=short_dir / "r.sock")
    try:
        assert running.broker_url == f"redis+socket://{short_dir / 'r.sock'}"
        assert redis.Redis.from_url(running.url).ping()
        with Connection(running.broker_url) as conn:
            conn.ensure_connection(max_retries=1)
    finally:
        running.stop()


def test_test_server_kill_ends_the_process(server: RunningServer) -> None:
    pid = server.pid

    server.kill()

    assert not server.running and not is_alive(pid)
    assert not ping(("127.0.0.1", server.port))


def test_test_server_restart_after_a_kill_keeps_appendonly_data(server: RunningServer) -> None:
    redis.Redis.from_url(server.url).rpush("celery", "message")
    port = server.port

    server.kill()
    server.restart()

    assert server.port == port
    assert redis.Redis.from_url(server.url).lrange("celery", 0, -1) == [b"message"]


def test_test_server_graceful_restart_keeps_appendonly_data(server: RunningServer) -> None:
    redis.Redis.from_url(server.url).set("key", "value")
    old_pid = server.pid

    server.restart()

    assert server.pid != old_pid
    assert redis.Redis.from_url(server.url).get("key") == b"value"


def test_test_server_without_appendonly_starts_empty_after_restart(tmp_path: Path) -> None:
    running = start_test_server(tmp_path)
    try:
        redis.Redis.from_url(running.url).set("key", "value")
        running.restart()
        assert redis.Redis.from_url(running.url).get("key") is None
    finally:
        running.stop()


def test_redis_client_fixture_starts_each_test_empty(
    redis_server: RunningServer,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    redis.Redis.from_url(redis_server.url).set("left-over", "1")

    client: redis.Redis = request.getfixturevalue("redis_client")

    assert client.dbsize() == 0
    assert client.ping()
