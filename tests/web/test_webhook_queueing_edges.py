"""The web's one-script queueing (claim and message together) at its edges: a Redis that is down
before the process first reached it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.testing.servers import RunningServer, start_test_server
from marketing_team.testing.web_client import TOKEN, post_event
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

