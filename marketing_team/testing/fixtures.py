"""Pytest fixtures for a real Redis-protocol server: one per session, flushed before each test."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.connection

from marketing_team.testing.servers import RunningServer, start_test_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Start one server for the whole session and stop it at the end."""
    server = start_test_server(tmp_path_factory.mktemp("redis-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def socket_server() -> Iterator[RunningServer]:
    """A server of the test's own on a unix socket (under /tmp: a socket's path has a length limit)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as short:
        server = start_test_server(Path(short), unix_socket=Path(short) / "r.sock")
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_client(redis_server: RunningServer) -> Iterator[redis.Redis]:
    """A client on the session server, which starts every test empty."""
    # A crash test may have killed the shared server: bring it back for the next test.
    if not redis_server.running:
        redis_server.restart()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What the test's thread sends to any server from now on, one entry per round trip (a
    pipeline packs its commands into one send); redis-py's own send, only watched."""
    sent: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command
    mine = threading.get_ident()

    def counted(self: redis.connection.AbstractConnection, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == mine:
            sent.append(command)
        send(self, command, check_health)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's key, Redis URL or product settings, nor leaves logging set up.

    A command run in-process (CliRunner) installs its JSON handler on the root logger; it is
    taken off again, so later tests' log lines do not land on the terminal.
    """
    for name in list(os.environ):
        if name.startswith(("MT_", "ANTHROPIC_", "REDIS_", "OPENAI_")) or name in (
                "WORKSPACE_DIR", "BUDGET_MONTHLY", "LOG_LEVEL", "LOG_FORMAT", "MAX_PARALLEL_AGENTS"):
            monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
__all__ = ["hermetic_env", "redis_client", "redis_server"]
