"""Root conftest: the real-server fixtures and the teams most tests share."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

pytest_plugins = ("marketing_team.testing.fixtures",)


def pytest_configure(config: pytest.Config) -> None:
    """Tests press Ctrl-C on the commands they start, so those must start able to hear it.

    A shell starts a background job (`pytest &` in a script, some CI runners) with SIGINT
    ignored, and every process it starts inherits that: each `mtctl` child would then ignore the
    test's Ctrl-C and finish its goal. With a handler here, children start with the default.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def team(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team with the offline provider and an in-process worker."""
    if not redis_server.running:  # a crash test may have stopped the shared server
        redis_server.restart()
    with Team(redis_server, tmp_path / "ws", OfflineProvider()) as running:
        yield running


@pytest.fixture
def idle(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team without a worker: the test plays the worker's part (runs tasks or the flow itself)."""
    if not redis_server.running:
        redis_server.restart()
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    yield team
    team.stop()


@pytest.fixture
def scripted() -> Iterator[ScriptedLLM]:
    """A scripted LLM whose unscripted calls are answered offline; leftovers fail the test."""
    llm = ScriptedLLM(fallback=OfflineProvider())
    yield llm
    llm.verify()


@pytest.fixture
def scripted_team(redis_server: RunningServer, tmp_path: Path, scripted: ScriptedLLM) -> Iterator[Team]:
    """A team whose model calls go to the scripted LLM."""
    if not redis_server.running:
        redis_server.restart()
    with Team(redis_server, tmp_path / "ws", scripted) as running:
        yield running
