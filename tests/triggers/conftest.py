"""Fixtures for triggers: a running team with the trigger tasks registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


@pytest.fixture
def team(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team with the offline provider and an in-process worker (the app registers trigger tasks)."""
    if not redis_server.running:
        redis_server.restart()
    running = Team(redis_server, tmp_path / "ws", OfflineProvider())
    with running:
        yield running
