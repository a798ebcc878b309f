"""Queueing an event's handling message with its id's claim: the web's one round trip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Queue

from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import Priority
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.app import create_app
from marketing_team.orchestration.canvas import NO_DECLARE
from marketing_team.orchestration.dispatch import publish_event, queue_claimed_event
from marketing_team.orchestration.event_message import connection_target, handling_entry
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

EVENT = Event(id="evt-q-1", type=EventType.NEW_BLOG_POST, data={"url": "https://x.test/q"})


@pytest.fixture
def quiet_team(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team without a worker, so what is queued stays in Redis to be read."""
    if not redis_server.running:
        redis_server.restart()
    with Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False) as team:
        # Connected, as a web process is once it has queued an event: before that, the entry is
        # not built (making kombu's connection would wait out its connect retries when Redis is
        # down) and the event is claimed and published in two steps.
        with team.app.producer_or_acquire() as producer:
            producer.connection.ensure_connection()
        yield team


def _queued(team: Team) -> list[tuple[str, dict[str, Any]]]:
    client = team.rt.redis
    keys = [key.decode() for key in client.scan_iter("director*") if client.type(key) == b"list"]
    return [(key, json.loads(raw)) for key in keys for raw in client.lrange(key, 0, -1)]


@pytest.mark.parametrize("tasks_loaded", [False, True], ids=["fresh app", "tasks loaded"])
def test_the_entry_pushed_with_the_claim_is_the_message_celery_itself_would_queue(
        quiet_team: Team, tasks_loaded: bool) -> None:
    # Given a web's Celery app as it starts, or once it has loaded its tasks (a desk action does:
    # send_task then merges the task's options, its priority and time limits among them)
    if tasks_loaded:
        quiet_team.app.finalize()
    # And the entry built for the claim's script, and the same event published by send_task
    entry = handling_entry(quiet_team.app, EVENT, "msg-1")
    publish_event(quiet_team.app, EVENT, message_id="msg-1")
    [(key, sent)] = _queued(quiet_team)

    # Then both go to the same list and carry the same message, but for the delivery tag kombu
    # makes fresh per publish (and two reprs send_task also copies into the properties)
    assert entry is not None and entry.key == key
    ours = json.loads(entry.entry)
    for message in (ours, sent):
        message["properties"].pop("delivery_tag")
    for name in ("argsrepr", "kwargsrepr"):
        assert sent["properties"].pop(name) == sent["headers"][name]
    assert ours == sent


def test_a_claimed_event_is_queued_once_and_its_duplicate_queues_nothing(quiet_team: Team) -> None:
    assert handling_entry(quiet_team.app, EVENT, "probe", same_as=quiet_team.rt.redis) is not None
    assert queue_claimed_event(quiet_team.app, quiet_team.rt, EVENT, 60)
    assert not queue_claimed_event(quiet_team.app, quiet_team.rt, EVENT, 60)

    [(_, message)] = _queued(quiet_team)
    claim = quiet_team.rt.redis.get(f"mt:events:seen:{EVENT.id}")
    assert claim is not None and message["headers"]["id"] == claim.decode()
    assert 0 < quiet_team.rt.redis.ttl(f"mt:events:seen:{EVENT.id}") <= 60


def test_a_broker_other_than_the_teams_redis_is_claimed_then_published(quiet_team: Team,
                                                                       tmp_path: Path) -> None:
    # Given a Celery app whose broker URL is not the runtime's (the same server, spelled apart):
    # one script cannot be assumed to reach both, so the claim and the publish go separately
    other = create_app(quiet_team.settings, quiet_team.server.broker_url + "?",
                       quiet_team.rt)
    assert other.conf.broker_url != quiet_team.rt.connection.url

    assert queue_claimed_event(other, quiet_team.rt, EVENT, 60)
    assert not queue_claimed_event(other, quiet_team.rt, EVENT, 60)

    [(_, message)] = _queued(quiet_team)
    claim = quiet_team.rt.redis.get(f"mt:events:seen:{EVENT.id}")
    assert claim is not None and message["headers"]["id"] == claim.decode()


def test_an_event_queued_by_the_web_is_taken_before_skill_work_already_waiting(quiet_team: Team) -> None:
    # Given a P1 goal's skill step waiting in the broker (a backlog of them, on a busy team)
    quiet_team.app.send_task("skills.copywriting", args=("goal-x", "task-x", 0), queue="skills",
                             priority=Priority.P1.broker_priority, **NO_DECLARE)
    # When the web queues an event (a conversion drop may start a P0 goal)
    assert queue_claimed_event(quiet_team.app, quiet_team.rt, EVENT, 60)

    # Then a worker consuming both queues, as every documented worker does, takes the event
    # first: kombu pops by priority across queues, so an event behind the P0-P1 backlog would
    # wait for all of it to drain (as it did not before the explicit priority)
    taken: list[str] = []
    with quiet_team.app.connection_for_read() as conn, conn.Consumer(
            [Queue("skills"), Queue("director")], accept=["json"],
            callbacks=[lambda _body, message: taken.append(message.headers["task"])]):
        conn.drain_events(timeout=5)
    assert taken == ["triggers.handle_event"]


@pytest.mark.parametrize("tasks_loaded", [False, True], ids=["fresh app", "tasks loaded"])
def test_an_events_message_leaves_its_time_limits_to_the_worker_that_runs_it(
        quiet_team: Team, tasks_loaded: bool) -> None:
    # Given a web process whose own time limits are not the workers' (a web configured apart)
    web = quiet_team.settings.model_copy(update={"soft_time_limit_s": 100, "hard_time_limit_s": 200})
    app = create_app(web, quiet_team.server.broker_url, quiet_team.rt)
    with app.producer_or_acquire() as producer:  # connected, as after the process's first event
        producer.connection.ensure_connection()
    if tasks_loaded:
        app.finalize()

    # When it queues an event either way (one script, or claim then publish)
    entry = handling_entry(app, EVENT, "msg-limits")
    publish_event(app, EVENT, message_id="msg-limits")
    [(_, sent)] = _queued(quiet_team)

    # Then neither message carries the web's limits: the worker's own settings bound the task
    assert entry is not None
    assert json.loads(entry.entry)["headers"]["timelimit"] == [None, None]
    assert sent["headers"]["timelimit"] == [None, None]


def test_a_url_without_a_port_reaches_the_same_place_as_one_naming_6379() -> None:
    # kombu fills the default port into its pools' settings; redis-py leaves it out
    assert connection_target({"host": "cache", "db": 0}) == connection_target({"host": "cache", "port": 6379})
    assert connection_target({"host": "cache", "port": 6380}) != connection_target({"host": "cache"})
    assert connection_target({"path": "/run/r.sock"}) != connection_target({"host": "cache"})
