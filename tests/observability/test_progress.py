"""Following a goal outlives a Redis restart, and says so in one line when Redis stays away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import redis

from marketing_team.domain.errors import BrokerUnavailableError, StoreRefusedWritesError
from marketing_team.observability import progress
from marketing_team.testing.servers import RunningServer, refuse_writes, start_test_server

GOAL = "goal-20261129-abcdef"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server this test may stop (the session's shared one stays up)."""
    server = start_test_server(tmp_path / "redis")
    yield server
    server.kill()


def _next_event(sub: progress.Subscription, deadline_s: float) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    for event in sub.events(wake_every_s=0.2):
        if event is not None:
            return event
        assert time.monotonic() < deadline, "no event before the deadline"
    raise AssertionError("the subscription ended")


def test_a_subscription_resubscribes_after_redis_restarts(own_server: RunningServer) -> None:
    client = redis.Redis.from_url(own_server.url)
    sub = progress.Subscription(client, GOAL)
    own_server.restart()

    # Reads reconnect and subscribe again; until then a publish reaches nobody (progress is
    # advisory: the follower re-checks the goal's state on every wake), so publish until heard.
    events = sub.events(wake_every_s=0.2)
    deadline = time.monotonic() + 10
    heard = None
    while heard is None:
        assert time.monotonic() < deadline, "never heard an event after the restart"
        progress.publish(client, GOAL, "phase_done", phase=1)
        heard = next(events)
    assert heard["event"] == "phase_done"
    sub.close()


def test_following_stops_with_a_typed_error_when_redis_stays_away(own_server: RunningServer) -> None:
    sub = progress.Subscription(redis.Redis.from_url(own_server.url), GOAL, reconnect_s=1.0)
    own_server.kill()

    with pytest.raises(BrokerUnavailableError, match=f"following goal {GOAL}"):
        _next_event(sub, 10)


@pytest.mark.parametrize("cause, words", [("OOM", "maxmemory"), ("READONLY", "replica"),
                                          ("MISCONF", "disk")])
def test_following_a_goal_on_a_server_that_refuses_writes_stops_naming_server_cause_and_resume(
        own_server: RunningServer, cause: Literal["OOM", "READONLY", "MISCONF"], words: str) -> None:
    # Given a follower on a quiet channel, when the server starts refusing writes (no worker can
    # move the goal any more), then following ends in one line instead of waiting for ever.
    client = redis.Redis.from_url(own_server.url)
    sub = progress.Subscription(client, GOAL)
    refuse_writes(own_server, cause)

    with pytest.raises(StoreRefusedWritesError) as caught:
        _next_event(sub, 10)

    text = str(caught.value)
    assert f"127.0.0.1:{own_server.port}" in text and "refuses writes" in text and words in text
    assert f"mtctl goals resume {GOAL}" in text and "\n" not in text
    sub.close()
