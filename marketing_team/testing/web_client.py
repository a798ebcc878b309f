"""A client for the WSGI application: call it in process, post events, read what the workers made of
them; or run it under real gunicorn."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketing_team.config.settings import load_settings
from marketing_team.testing.processes import stop, wait_for
from marketing_team.testing.servers import free_port
from marketing_team.testing.team import Team
from marketing_team.triggers.event_bus import event_result
from marketing_team.web.webhook import WebhookApp, create_webhook_app

TOKEN = "test-token-4f2a"


def web_app(team: Team, **settings: Any) -> WebhookApp:
    """A separately created webhook app (as in its own web process) on the team's server and workspace."""
    cfg = load_settings(_env_file=None, workspace_dir=team.settings.workspace_dir,
                        redis_url=team.server.url, webhook_token=TOKEN, **settings)
    return create_webhook_app(cfg)


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
        "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
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


def handled(team: Team, reply: Response, timeout_s: float = 30.0) -> dict[str, Any]:
    """What the worker's `triggers.handle_event` made of an event the web queued."""
    assert reply.status == 202 and reply.json()["status"] == "queued", reply.body
    event_id = reply.json()["event_id"]
    found: dict[str, Any] = wait_for(lambda: event_result(team.rt.redis, event_id), timeout_s,
                                     f"the worker to handle event {event_id}")
    return found


def health_answers(port: int) -> bool:
    """True once a web process on this loopback port answers GET /health (ready or not)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status in (200, 503)
    except OSError:
        return False


@contextmanager
def running_gunicorn(env: Mapping[str, str], workdir: Path, *options: str) -> Iterator[tuple[int, Path]]:
    """`gunicorn marketing_team.web.wsgi:app` (plus options) on a free loopback port, as a real
    process: (port, its log) once /health answers; stopped at the end."""
    port = free_port()
    log = workdir / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketing_team.web.wsgi:app",
                                 "--bind", f"127.0.0.1:{port}", *options],
                                cwd=workdir, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: health_answers(port) or proc.poll() is not None, 30, "gunicorn to answer")
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited {proc.returncode}: {log.read_text()[-2000:]}")
        yield port, log
    finally:
        stop(proc)
