"""Webhook intake while 50 slow clients hold connections ÷ the same intake without them.

Both runs use the Procfile's gunicorn setup (`--config python:marketing_team.web.gunicorn_conf`:
one gthread worker, 64 threads, a 10 s deadline per request) on one private Redis. Each slow
client sends a request line and then one header byte every 5 s (inside the per-read timeout),
never finishing; valid events are POSTed by 4 client threads meanwhile. Every valid
event has its own id and is queued (nothing plans here), so both runs take the same path.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.common import Result, server
from bench.webhook import _answers, _drive
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import free_port

SLOW_CLIENTS = 50
EVENTS = 600
WORKERS = 1  # as the Procfile runs it
TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
TOKEN = "bench-token"


def _gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "marketing_team.web.wsgi:app",
                                 "--config", "python:marketing_team.web.gunicorn_conf",
                                 "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
                                 "--log-level", "warning"],
                                env=child_env(env), stdout=out, stderr=subprocess.STDOUT)


def _trickle(port: int, stop: threading.Event, opened: list[socket.socket]) -> None:
    """One slow client: a request line, then a header byte every 5 s until told to stop."""
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        opened.append(sock)
        sock.sendall(b"POST /webhook HTTP/1.1\r\nX-Slow: ")
        while not stop.wait(5.0):
            sock.sendall(b"a")
    except OSError:
        return  # the server hung up on it: that is allowed


def run() -> Result:
    """Measure intake without slow clients, then with 50 of them, on the same server."""
    tmp = Path(tempfile.mkdtemp(prefix="mt-bench-slow-"))
    with server() as srv:
        port = free_port()
        env = {"REDIS_URL": srv.url, "WORKSPACE_DIR": str(tmp / "ws"), "MT_WEBHOOK_TOKEN": TOKEN}
        proc = _gunicorn(port, env, tmp / "web.log")
        stop = threading.Event()
        opened: list[socket.socket] = []
        try:
            wait_for(lambda: _answers(port) or proc.poll() is not None, 30, "gunicorn")
            _drive(port, 50, "warm")
            base_rate, base_p99, _ = _drive(port, EVENTS, "quiet")
            slow = [threading.Thread(target=_trickle, args=(port, stop, opened), daemon=True)
                    for _ in range(SLOW_CLIENTS)]
            for thread in slow:
                thread.start()
            wait_for(lambda: len(opened) >= SLOW_CLIENTS or None, 10, "the slow clients to connect")
            rate, p99, statuses = _drive(port, EVENTS, "slow")
        finally:
            stop.set()
            for sock in opened:
                sock.close()
            proc.terminate()
            proc.wait(15)
    ratio = rate / base_rate
    met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
    return Result("webhook, 50 slow clients", rate, "events/s", base_rate, ratio,
                  f">= {TARGET_RATIO} and p99 < {TARGET_P99_MS:.0f} ms", met,
                  f"(p99 {p99:.1f} ms vs {base_p99:.1f} ms without them; {WORKERS} gthread workers, "
                  f"statuses {statuses})")


if __name__ == "__main__":
    print(run().line())
