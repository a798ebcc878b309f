"""The documented gunicorn command serves the review desk when only MT_CONSOLE_PASSWORD is set."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.processes import child_env
from marketing_team.testing.team import Team
from marketing_team.testing.team_responder import offline_responder
from marketing_team.testing.web_client import running_gunicorn
from tests.web.desk_client import PASSWORD, DeskClient, over_http


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


@pytest.fixture
def desk_gunicorn(team: Team, tmp_path: Path) -> Iterator[int]:
    """The documented gunicorn command (one worker) serving only the desk; stopped at the end."""
    env = child_env({"REDIS_URL": team.server.url, "WORKSPACE_DIR": str(team.settings.workspace),
                     "MT_CONSOLE_PASSWORD": PASSWORD})
    with running_gunicorn(env, tmp_path, "--config", "python:marketing_team.web.gunicorn_conf",
                          "--workers", "1") as (port, log):
        yield port
    assert PASSWORD not in log.read_text()


def test_gunicorn_serves_the_desk_with_only_a_console_password(desk_gunicorn: int) -> None:
    status, headers, _ = _get(desk_gunicorn, "/")
    login_status, _, login = _get(desk_gunicorn, "/desk/login")
    css_status, _, css = _get(desk_gunicorn, "/desk/static/desk.css")

    assert status == 303 and headers["Location"] == "/desk/"
    assert login_status == 200 and b'name="password"' in login  # templates ship with the package
    assert css_status == 200 and b"@media" in css


def _asking_to_close(port: int) -> socket.socket:
    # A client that asks to close and then never closes: gunicorn lingers up to 2 s for its FIN
    # (RFC 9112 9.6) before closing the socket itself.
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /desk/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return sock


def _answered(sock: socket.socket) -> None:
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)


def test_gunicorn_idle_closing_sockets_do_not_stall_other_clients(desk_gunicorn: int) -> None:
    idle = [_asking_to_close(desk_gunicorn) for _ in range(8)]
    try:
        for sock in idle:
            _answered(sock)
        began = time.monotonic()
        status, _, _ = _get(desk_gunicorn, "/desk/login")  # lingered on the main loop: 16 s

        assert status == 200 and time.monotonic() - began < 2.0
    finally:
        for sock in idle:
            sock.close()


def test_a_start_that_plans_longer_than_the_read_deadline_is_answered(
        quiet_team: Team, tmp_path: Path) -> None:
    # Given the desk under gunicorn with a 2 s deadline to receive a request, and a model that
    # takes 3 s to plan (the deadline bounds receiving the request, not the answer's work)
    with FakeAnthropic(responder=offline_responder(lambda _: 3.0)) as slow_model:
        env = child_env({"REDIS_URL": quiet_team.server.url,
                         "WORKSPACE_DIR": str(quiet_team.settings.workspace),
                         "MT_CONSOLE_PASSWORD": PASSWORD, "MT_WEB_READ_TIMEOUT": "1",
                         "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": slow_model.url})
        with running_gunicorn(env, tmp_path, "--config", "python:marketing_team.web.gunicorn_conf",
                              "--workers", "1") as (port, _):
            browser = DeskClient(over_http(port))
            assert browser.login().status == 303
            form = {"text": "Grow signups from the pricing page", "priority": "P1", "pipeline": ""}
            start = browser.plan(form)

            # When the person presses Start
            reply = browser.post("/desk/start", {**form, "start": start["start"]},
                                 csrf=start["csrf"])

    # Then they land on their goal, which was planned with the model and started
    assert reply.status == 303 and reply.headers["Location"].startswith("/desk/goals/goal-")
    assert len(slow_model.requests) >= 1
