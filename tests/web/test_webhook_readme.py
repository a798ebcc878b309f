"""The README's webhook examples, run as written: a sender's signed request is accepted, and neither
the token nor the signing secret is ever on a command line (where `ps` shows it to anyone)."""

from __future__ import annotations

import json
import os
import re
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, web_app

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "hmac-SECRET-README-5c1d"
_BASH = re.compile(r"```bash\n(.*?)```", re.DOTALL)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def port(quiet_team: Team) -> Iterator[int]:
    """The webhook with a signing secret, served over HTTP on a free port."""
    server = make_server("127.0.0.1", 0, web_app(quiet_team, webhook_hmac_secret=SECRET),
                         server_class=_Server, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


def _examples() -> list[str]:
    """The README's examples of sending to the webhook: from a block's first `t=` or `curl` line
    (the lines before them are mtctl commands of their own)."""
    found = []
    for block in _BASH.findall(README.read_text(encoding="utf-8")):
        start = re.search(r"^(t=|curl )", block, re.MULTILINE)
        if "/webhook" in block and start is not None:
            found.append(block[start.start():])
    return found


def _run_traced(script: str, port: int) -> tuple[str, str]:
    """(stdout, every command bash ran, expanded) of script with the sender's environment."""
    env = {**os.environ, "MT_WEBHOOK_TOKEN": TOKEN, "MT_WEBHOOK_HMAC_SECRET": SECRET}
    done = subprocess.run(["bash", "-xc", script.replace("localhost:8000", f"127.0.0.1:{port}")],
                          env=env, capture_output=True, text=True, timeout=60)
    return done.stdout, done.stderr


def test_the_readme_shows_a_sender_signing_a_request_the_webhook_accepts(port: int) -> None:
    signing = [block for block in _examples() if "X-Signature" in block]
    assert len(signing) == 1, "the README shows how a sender signs, once"

    out, _ = _run_traced(signing[0], port)

    assert json.loads(out)["status"] == "queued", out


def test_no_readme_webhook_example_puts_the_token_or_secret_on_a_command_line(port: int) -> None:
    examples = _examples()
    assert len(examples) >= 2  # the bearer-only example and the signed one

    for script in examples:
        _, trace = _run_traced(script, port)
        commands = [line for line in trace.splitlines() if line.startswith("+")]
        assert commands, trace
        assert not [c for c in commands if TOKEN in c or SECRET in c], script
