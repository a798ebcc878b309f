"""Helpers for the trigger tests: WSGI calls, webhook apps, a probe catalog, beat processes, a gated LLM."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.protocol import Message, Reply, SystemBlock
from marketing_team.testing.processes import child_env
from marketing_team.testing.processes import wait_for as harness_wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.web.webhook import WebhookApp, create_webhook_app

TOKEN = "test-token-4f2a"


def web_app(team: Team, **settings: Any) -> WebhookApp:
    """A separately created webhook app (as in its own web process) on the team's server and workspace."""
    from marketing_team.config.settings import load_settings

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
    try:
        return harness_wait_for(predicate, timeout_s, what)
    except TimeoutError as exc:
        pytest.fail(str(exc))


PROBE_CATALOG = {
    "schedules.yaml": """schedules:
  - id: probe
    cron: "0 0 1 1 *"
    kind: pipeline
    target: Probe
    priority: P2
  - id: probe-urgent
    cron: "0 0 1 1 *"
    kind: pipeline
    target: Probe
    priority: P1
""",
    "pipelines.yaml": """pipelines:
  - name: Probe
    description: "One quick skill, for schedule tests."
    category: content
    priority: P2
    steps:
      - skill: marketing-ideas
""",
}


def probe_catalog(root: Path) -> Path:
    """A catalog override dir adding the yearly `probe` schedules (P2 and P1) and a one-step pipeline."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in PROBE_CATALOG.items():
        (root / name).write_text(text)
    return root


def start_beat(server: RunningServer, catalog: Path, workspace: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`celery -A marketing_team beat -S marketing_team.orchestration.beat:Scheduler` against the test server."""
    env = child_env({"REDIS_URL": server.url, "MT_CATALOG_DIR": str(catalog),
                     "WORKSPACE_DIR": str(workspace), "MT_LLM_PROVIDER": "offline"})
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketing_team", "beat", "-S",
             "marketing_team.orchestration.beat:Scheduler", "--loglevel", "INFO"],
            cwd=log_path.parent, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a subprocess we started: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class GatedLLM:
    """The offline provider behind a gate: calls wait until the test opens it (keeps a goal running)."""

    name = "offline"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self._inner = OfflineProvider()

    def complete(self, system_blocks: list[SystemBlock], messages: list[Message], model: str,
                 max_tokens: int, schema: type[BaseModel] | None = None) -> Reply:
        """Wait for the gate (at most 60 s, so a failed test cannot hang), then answer offline."""
        if not self.gate.wait(60):
            raise TimeoutError("the test never opened the gate")
        return self._inner.complete(system_blocks, messages, model, max_tokens, schema)
