"""The web's one-script queueing (claim and message together) at its edges: a Redis that is down
before the process first reached it, and a team on a unix socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import build_runtime
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.app import create_app
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer, start_test_server
from marketing_team.testing.web_client import TOKEN, post_event
from marketing_team.triggers.event_bus import event_result
from marketing_team.web.webhook import create_webhook_app

EVENT = {"type": "new_blog_post", "data": {"url": "https://x.test/edge"}}


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of this test's own, which it may stop without disturbing the shared one."""
    server = start_test_server(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


def test_a_web_process_whose_first_event_finds_redis_down_answers_503_at_once(
        own_server: RunningServer, tmp_path: Path) -> None:
    # Given a web process that has not reached Redis yet (a fresh gunicorn worker), and Redis down
    settings = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=own_server.url,
                             webhook_token=TOKEN)
    web = create_webhook_app(settings)
    own_server.stop()

    began = time.monotonic()
    reply = post_event(web, EVENT)
    took = time.monotonic() - began

    # Then the sender is told to retry later, as when the process had reached Redis before
    assert reply.status == 503, reply.body
    assert "Redis is unavailable" in reply.json()["error"]
    assert took < 2.0, f"the refusal took {took:.1f} s"


@pytest.mark.parametrize("scheme", ["unix", "redis+socket"])
def test_events_posted_to_a_team_on_a_unix_socket_are_handled(
        socket_server: RunningServer, tmp_path: Path, scheme: str) -> None:
    # Given a team whose REDIS_URL is a unix socket, in redis-py's spelling or kombu's (a socket
    # URL naming another database is refused at start: kombu would read database 0 from it)
    url = f"{scheme}://{socket_server.unix_socket}"
    settings = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=url,
                             webhook_token=TOKEN, allow_volatile_ledger=True)
    rt = build_runtime(settings, url, OfflineProvider())
    worker = InProcessWorker(create_app(settings, url, rt), concurrency=2).start()
    try:
        # When events are posted to one web process (its first and the ones after)
        web = create_webhook_app(settings)
        replies = [post_event(web, {"id": f"evt-db-{n}", **EVENT}) for n in range(3)]
        assert all(r.status == 202 and r.json()["status"] == "queued" for r in replies), replies

        # Then a worker handles each: the messages went where the workers listen
        for reply in replies:
            event_id = reply.json()["event_id"]
            wait_for(partial(event_result, rt.redis, event_id), 20, f"the worker to handle {event_id}")
    finally:
        worker.stop(warm=False)
