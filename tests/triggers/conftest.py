"""Fixtures for triggers: a running team with the trigger tasks, and WSGI helpers."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from marketing_team import trigger_tasks
from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.webhook import WebhookApp, create_app

TOKEN = "test-token-4f2a"


@pytest.fixture
def team(redis_server: RunningServer, tmp_path: Path) -> Iterator[Team]:
    """A team with the offline provider, the trigger tasks registered and an in-process worker."""
    if not redis_server.running:
        redis_server.restart()
    running = Team(redis_server, tmp_path / "ws", OfflineProvider())
    trigger_tasks.register(running.app)  # before the worker starts, so it consumes them
    with running:
        yield running


def web_app(team: Team, **settings: Any) -> WebhookApp:
    """A separately created webhook app (as in its own web process) on the team's server and workspace."""
    from marketing_team.settings import load_settings

    cfg = load_settings(_env_file=None, workspace_dir=team.settings.workspace_dir,
                        redis_url=team.server.url, webhook_token=TOKEN, **settings)
    return create_app(cfg)


@dataclass
class Response:
    """What a WSGI app answered."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def call(app: Callable[..., Any], method: str = "POST", path: str = "/webhook", body: bytes = b"",
         headers: dict[str, str] | None = None) -> Response:
    """Call a WSGI app in-process with a hand-built environ."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)) if body else "",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = dict(response_headers)

    chunks = b"".join(app(environ, start_response))
    return Response(captured["status"], captured["headers"], chunks)


def post_event(app: Callable[..., Any], event: dict[str, Any], token: str = TOKEN) -> Response:
    """POST one event as JSON with the bearer token."""
    return call(app, body=json.dumps(event).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll predicate until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
