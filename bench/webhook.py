"""Webhook: accepted events/s and p99 under gunicorn ÷ a bare WSGI hello app on the same gunicorn setup,
the median ratio of paired rounds (each side measured back to back, in alternating order)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.common import Result, server
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.servers import free_port

REQUESTS = 1500  # per app and round, after warm-up
ROUNDS = 5  # paired rounds (hello and ours back to back); the median ratio is the row
WARMUP = 50
CONCURRENCY = 4  # client threads; each request opens its own connection (gunicorn sync workers close)
GUNICORN_WORKERS = 4
TIME_LIMIT_S = 120.0  # bounded: a run stops here even if the requests are not all sent
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
TOKEN = "bench-token"
_HEAD = (f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
         "Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n").encode()


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The baseline: a bare WSGI app that reads the body and answers 202 with a small JSON."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    body = b'{"event_id": "hello", "goals": [], "reason": null}'
    start_response("202 Accepted", [("Content-Type", "application/json"),
                                    ("Content-Length", str(len(body)))])
    return [body]


def _gunicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
                                 "--workers", str(GUNICORN_WORKERS), "--log-level", "warning"],
                                env=child_env(env), stdout=out, stderr=subprocess.STDOUT)


def _post(port: int, body: bytes) -> tuple[int, float]:
    """(status, seconds) of one POST on a connection of its own.

    Written on a bare socket: http.client's own work per request (~180-240 µs of CPU here) runs
    on the same two cores as the servers and is the same on both sides, so it pulled the ratio
    towards 1 (a third of the baseline's CPU per request went to the client).
    """
    request = _HEAD % len(body) + body
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while (end := reply.find(b"\r\n\r\n")) < 0 or len(reply) < end + 4 + _length(reply[:end]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply[9:12] or 0), time.perf_counter() - started


def _length(head: bytes) -> int:
    """The Content-Length a reply's head gives (0 without one)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _answers(port: int) -> bool:
    try:
        return _post(port, b"{}")[0] > 0
    except OSError:
        return False


def _drive(port: int, total: int, prefix: str) -> tuple[float, float, dict[int, int]]:
    """(accepted per second, p99 latency in ms, count by status) for total POSTs."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    next_index = iter(range(total))
    deadline = time.monotonic() + TIME_LIMIT_S

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            event = {"id": f"{prefix}-{index}", "type": "traffic_drop", "source": "bench",
                     "data": {"percentageDrop": 30, "page": "/pricing"}}
            status, seconds = _post(port, json.dumps(event).encode())
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    latencies.append(seconds)

    threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else float("inf")
    return len(latencies) / wall, p99, statuses


def _measure(app: str, env: dict[str, str], tmp: Path, name: str) -> tuple[float, float, dict[int, int]]:
    port = free_port()
    proc = _gunicorn(app, port, env, tmp / f"{name}.log")
    try:
        wait_for(lambda: _answers(port) or proc.poll() is not None, 30, f"gunicorn ({name})")
        if proc.poll() is not None:
            raise RuntimeError((tmp / f"{name}.log").read_text()[-2000:])
        _drive(port, WARMUP, f"{name}-warm")
        return _drive(port, REQUESTS, name)
    finally:
        proc.terminate()
        proc.wait(15)


def _no_cooldown_catalog(tmp: Path) -> Path:
    """A catalog override whose traffic_drop mapping has no cooldown: every event starts a goal."""
    folder = tmp / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.yaml").write_text(
        "mappings:\n  - event: traffic_drop\n    pipeline: SEO Cycle\n    priority: P1\n"
        "    condition: {field: percentageDrop, op: gt, value: 20}\n    cooldown: 0\n")
    return folder


def run() -> Result:
    """Measure the hello baseline, then the webhook against a private Redis, same gunicorn setup."""
    tmp = Path(tempfile.mkdtemp(prefix="mt-bench-webhook-"))
    with server() as srv:
        env = {"REDIS_URL": srv.url, "WORKSPACE_DIR": str(tmp / "ws"), "MT_WEBHOOK_TOKEN": TOKEN,
               "MT_CATALOG_DIR": str(_no_cooldown_catalog(tmp))}
        # Paired rounds, the median of their ratios: on a shared 2-core machine the rate drifts
        # by a third within a minute. The best of each side picked the baseline's luckiest
        # round (hello ranged 2000-4000 events/s in one run) against ours from another; a
        # ratio within a round shares its moment, and the side that goes first alternates.
        rounds = []
        for round_ in range(ROUNDS):
            sides = [("hello", "bench.webhook:hello", {}),
                     ("webhook", "marketing_team.web.wsgi:app", env)]
            measured = {name: _measure(app, app_env, tmp, f"{name}{round_}")
                        for name, app, app_env in (sides if round_ % 2 == 0 else sides[::-1])}
            rounds.append((measured["webhook"][0] / measured["hello"][0], measured))
    rounds.sort(key=lambda pair: pair[0])
    ratio, middle = rounds[len(rounds) // 2]
    rate = middle["webhook"][0]
    statuses: dict[int, int] = {}  # every round's answers: an error in any round must show
    for _, measured in rounds:
        for status, count in measured["webhook"][2].items():
            statuses[status] = statuses.get(status, 0) + count
    base_rate, base_p99, _ = middle["hello"]
    p99 = max(measured["webhook"][1] for _, measured in rounds)  # the worst round's, to be strict
    met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
    # Every event is a traffic_drop over the threshold with its own id and no cooldown on its
    # mapping: each one is accepted to start a goal (the webhook's full path, not the cheap
    # cooldown refusal a burst would mostly take).
    return Result("webhook, goal-starting events", rate, "events/s", base_rate, ratio,
                  f">= {TARGET_RATIO} and p99 < {TARGET_P99_MS:.0f} ms", met,
                  f"(p99 {p99:.1f} ms vs hello {base_p99:.1f} ms; {CONCURRENCY} clients, "
                  f"{GUNICORN_WORKERS} sync workers, median ratio of {ROUNDS} paired rounds, "
                  f"statuses {statuses})")


if __name__ == "__main__":
    print(run().line())
