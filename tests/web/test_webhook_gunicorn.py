"""The webhook under a real gunicorn process on loopback, publishing to the team's Redis."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.domain.goal import GoalStatus
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, running_gunicorn
from marketing_team.triggers.event_bus import event_result
from marketing_team.web.webhook import MAX_BODY_BYTES


def _request(port: int, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, chunked: bool = False) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            conn.request(method, path, body=iter([body or b""]), headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


@pytest.fixture
def gunicorn(team: Team, tmp_path: Path) -> Iterator[int]:
    """gunicorn marketing_team.web.wsgi:app on a free loopback port; stopped at the end."""
    env = child_env({"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
                     "MT_WEBHOOK_TOKEN": TOKEN})
    with running_gunicorn(env, tmp_path, "--workers", "2") as (port, _):
        yield port


def test_webhook_under_gunicorn_starts_a_goal_and_refuses_bad_requests(gunicorn: int, team: Team) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    event = json.dumps({"id": "evt-gunicorn-1", "type": "traffic_drop",
                        "data": {"percentageDrop": 30}}).encode()

    status, body = _request(gunicorn, "POST", "/webhook", event, auth)
    again, repeat = _request(gunicorn, "POST", "/webhook", event, auth)

    assert status == 202 and json.loads(body)["status"] == "queued", body
    assert again == 202 and json.loads(repeat)["status"] == "duplicate"
    assert _request(gunicorn, "POST", "/webhook", event, {"Content-Type": "application/json"})[0] == 401
    assert _request(gunicorn, "POST", "/webhook", b"x" * (MAX_BODY_BYTES + 1), auth)[0] == 413
    assert _request(gunicorn, "POST", "/webhook", b"y" * (MAX_BODY_BYTES + 10), auth, chunked=True)[0] == 413
    assert _request(gunicorn, "GET", "/webhook")[0] == 405
    metrics_status, metrics = _request(gunicorn, "GET", "/metrics")
    assert metrics_status == 200 and b"mt_goals{status=" in metrics
    handled = wait_for(lambda: event_result(team.rt.redis, "evt-gunicorn-1"), 30, "the worker")
    [goal_id] = handled["goals"]
    assert team.wait(goal_id, timeout_s=90).status is GoalStatus.COMPLETED
