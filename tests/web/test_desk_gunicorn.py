"""The documented gunicorn command serves the review desk when only MT_CONSOLE_PASSWORD is set."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

from marketing_team.testing.processes import child_env, stop, wait_for
from marketing_team.testing.servers import free_port
from marketing_team.testing.team import Team
from tests.web.desk_client import PASSWORD


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


def _answers(port: int) -> bool:
    try:
        return _get(port, "/health")[0] in (200, 503)
    except OSError:
        return False


def test_gunicorn_serves_the_desk_with_only_a_console_password(team: Team, tmp_path: Path) -> None:
    port = free_port()
    env = child_env({"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
                     "MT_CONSOLE_PASSWORD": PASSWORD})
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketing_team.web.wsgi:app",
                                 "--config", "python:marketing_team.web.gunicorn_conf",
                                 "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: _answers(port) or proc.poll() is not None, 30, "gunicorn to answer")
        assert proc.poll() is None, log.read_text()[-2000:]

        status, headers, _ = _get(port, "/")
        login_status, _, login = _get(port, "/desk/login")
        css_status, _, css = _get(port, "/desk/static/desk.css")

        assert status == 303 and headers["Location"] == "/desk/"
        assert login_status == 200 and b'name="password"' in login  # templates ship with the package
        assert css_status == 200 and b"@media" in css
    finally:
        stop(proc)
    assert PASSWORD not in log.read_text()
