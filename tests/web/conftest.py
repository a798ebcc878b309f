"""Fixtures for the review desk: a team, a goal that waits for a person, and a signed-in client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import web_app
from marketing_team.web.webhook import WebhookApp
from tests.web.desk_client import PASSWORD, DeskClient

# A deliverable a hostile or confused model might write: none of it may run in a reader's browser.
HOSTILE = ('<script>alert("owned")</script>\n<img src=x onerror=alert(1)>\n'
           '[click me](javascript:alert(1)) and [our page](https://example.test/page)')


@pytest.fixture
def quiet_team(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team without a worker: what the desk or the webhook publishes stays visible in Redis."""
    if not redis_server.running:
        redis_server.restart()
    with Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False) as team:
        yield team


@pytest.fixture
def waiting_goal(scripted_team: Team, scripted: ScriptedLLM) -> Goal:
    """A goal paused for a person: copywriting's drafts stay too short (and hostile) 4 times."""
    scripted.on(lambda c: c.is_skill("copywriting"), HOSTILE, times=4)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    assert scripted_team.wait(goal.id).status is GoalStatus.WAITING_HUMAN
    return goal


def desk_app(team: Team, **settings: Any) -> WebhookApp:
    """The web app of one web process, with the desk on (and any other settings given)."""
    return web_app(team, console_password=PASSWORD, **settings)


@pytest.fixture
def quiet_desk(quiet_team: Team) -> DeskClient:
    """Signed in to a team without a worker: started goals stay where the desk left them."""
    client = DeskClient(desk_app(quiet_team))
    assert client.login().status == 303
    return client


@pytest.fixture
def desk(scripted_team: Team) -> DeskClient:
    """A client signed in to the desk of the scripted team."""
    client = DeskClient(desk_app(scripted_team))
    assert client.login().status == 303
    return client


@pytest.fixture
def web(quiet_team: Team) -> WebhookApp:
    """The webhook app of one web process."""
    return web_app(quiet_team)
