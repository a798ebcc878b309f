"""The Procfile's commands, run as written against a test server: each process comes up and logs JSON."""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib.util
import json
import socket
import threading
from pathlib import Path

import pytest
import redis

from marketing_team.config.settings import load_settings
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.beat import heartbeat_age
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer, free_port
from marketing_team.testing.team import Team
from tests.ops.conftest import Launch, json_lines, procfile

FLOWER_PASSWORD = "flower-secret-9f8e7d"


def _env(server: RunningServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"REDIS_URL": server.url, "WORKSPACE_DIR": str(tmp_path / "ws"), "MT_LLM_PROVIDER": "offline",
            "MAX_PARALLEL_AGENTS": "2", **extra}


def _get(port: int, path: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def _answers(port: int, path: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes] | None:
    try:
        return _get(port, path, auth)
    except OSError:
        return None


def _slow_web(server: RunningServer, launch: Launch, tmp_path: Path, **extra: str) -> int:
    """The Procfile's web command with a 1 s read timeout (2 s per request), answering /health;
    its port."""
    port = free_port()
    env = _env(server, tmp_path, PORT=str(port), MT_WEBHOOK_TOKEN="slow-token", MT_WEB_READ_TIMEOUT="1",
               **extra)
    proc = launch(["bash", "-c", procfile()["web"]], env, "web")
    wait_for(lambda: _answers(port, "/health") or proc.poll() is not None, 30, "/health")
    return port


def _post_event(port: int, token: str, timeout_s: float) -> int:
    """POST one valid event to the webhook; its status (OSError when not answered in time)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("POST", "/webhook", body=json.dumps({"type": "new_blog_post", "data": {}}).encode(),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def _worker_pongs(server: RunningServer, tmp_path: Path) -> bool:
    settings = load_settings(_env_file=None, redis_url=server.url, workspace_dir=tmp_path / "ws")
    app = build_app(settings, broker_url=server.broker_url)
    return bool(app.control.ping(timeout=0.5, limit=1))


def test_procfile_has_worker_beat_web_and_flower() -> None:
    entries = procfile()
    assert set(entries) == {"worker", "beat", "web", "flower"}
    assert "--pool threads" in entries["worker"] and "-Q skills,director" in entries["worker"]
    # Flower's credentials come from the environment: nothing secret on a command line `ps` shows
    assert "PASSWORD}" not in entries["flower"].split("&&")[-1]
    assert "--basic-auth" not in entries["flower"] and "MT_FLOWER_PASSWORD:?" in entries["flower"]


def test_procfile_worker_answers_ping_and_logs_json_lines_once(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's worker command, run by a shell as a Procfile runner would
    proc = launch(["bash", "-c", procfile()["worker"]], _env(server, tmp_path), "worker")

    # When it has started
    wait_for(lambda: _worker_pongs(server, tmp_path) or proc.poll() is not None, 30, "a pong")

    # Then it answers ping, and its log is JSON lines with each line written once (one handler)
    assert proc.poll() is None, (tmp_path / "worker.err").read_text()[-2000:]
    records = wait_for(lambda: (r := json_lines(tmp_path / "worker.err")) and
                       any(x["message"].endswith(" ready.") for x in r) and r, 10, "the ready line")
    ready = [r for r in records if r["message"].endswith(" ready.")]
    assert len(ready) == 1 and ready[0]["component"] == "worker"
    assert all({"timestamp", "level", "event"} <= set(r) for r in records)


def test_procfile_beat_writes_its_heartbeat(server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's beat command
    proc = launch(["bash", "-c", procfile()["beat"]], _env(server, tmp_path), "beat")
    client = redis.Redis.from_url(server.url)

    # When it has started, Then the heartbeat key is fresh and its log is JSON lines
    age = wait_for(lambda: heartbeat_age(client) is not None or proc.poll() is not None, 30, "a heartbeat")
    assert proc.poll() is None and age is True, (tmp_path / "beat.err").read_text()[-2000:]
    assert (heartbeat_age(client) or 0) < 60
    assert any(r["component"] == "beat" for r in json_lines(tmp_path / "beat.err"))


@pytest.mark.skipif(importlib.util.find_spec("marketing_team.web.wsgi") is None,
                    reason="marketing_team.web.wsgi is not in this tree yet")
def test_procfile_web_answers_health(server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's web command on a free port
    port = free_port()
    env = _env(server, tmp_path, PORT=str(port), MT_WEBHOOK_TOKEN="hook-token-5a4b3c2d")
    proc = launch(["bash", "-c", procfile()["web"]], env, "web")

    # When gunicorn is up, Then /health answers with a JSON body and the log is JSON lines
    reply = wait_for(lambda: _answers(port, "/health") or proc.poll() is not None, 30, "/health")
    assert proc.poll() is None, (tmp_path / "web.err").read_text()[-2000:]
    status, body = reply  # type: ignore[misc]
    assert status in (200, 503) and "components" in json.loads(body)
    assert any(r["component"] == "web" for r in json_lines(tmp_path / "web.err"))


def test_procfile_flower_requires_basic_auth_and_lists_tasks_by_skill_name(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's worker and flower (basic auth from settings) and a goal run through them
    port = free_port()
    launch(["bash", "-c", procfile()["worker"]], _env(server, tmp_path), "worker")
    env = _env(server, tmp_path, FLOWER_PORT=str(port), MT_FLOWER_USER="ops",
               MT_FLOWER_PASSWORD=FLOWER_PASSWORD)
    flower = launch(["bash", "-c", procfile()["flower"]], env, "flower")
    wait_for(lambda: _answers(port, "/") or flower.poll() is not None, 30, "flower to answer")
    assert flower.poll() is None, (tmp_path / "flower.err").read_text()[-2000:]
    wait_for(lambda: _worker_pongs(server, tmp_path), 30, "the worker")
    auth = ("ops", FLOWER_PASSWORD)
    with Team(server, tmp_path / "ws", OfflineProvider(), worker=False) as team:
        # Two goals: flower's event receiver may still be connecting while the first one runs
        # (an offline goal takes under a second); it hears the second one's tasks.
        for text in ("Write a blog post about onboarding", "Write a blog post about pricing"):
            goal = team.goal(text)
            done = team.wait(goal.id, timeout_s=45)
            assert done.status is GoalStatus.COMPLETED

    # Then flower refuses anonymous requests, and lists the run's tasks by skill name
    assert _get(port, "/")[0] == 401
    assert _get(port, "/", auth)[0] == 200

    def names() -> set[str] | None:
        status, body = _get(port, "/api/task/types", auth)
        found = set(json.loads(body)["task-types"]) if status == 200 else set()
        return found if "skills.product-marketing-context" in found else None

    found = wait_for(names, 15, "flower to list the goal's tasks")
    assert {"director.review", "director.advance_goal"} <= found

    def second_goal() -> list[dict[str, object]] | None:
        # The second goal's tasks as flower lists them, once every draft and review succeeded.
        status, body = _get(port, "/api/tasks", auth)
        listed = list(json.loads(body).values()) if status == 200 else []
        mine = [t for t in listed if done.id in str(t.get("args"))]
        finished = [t for t in mine if t.get("state") == "SUCCESS"]
        drafts = [t for t in finished if str(t.get("name")).startswith("skills.")]
        reviews = [t for t in finished if t.get("name") == "director.review"]
        return mine if min(len(drafts), len(reviews)) >= len(done.tasks) else None

    # Each skill run is a task of its own name and id (the review is chained, not a replacement)
    listed = wait_for(second_goal, 15, "flower to list every draft and review of the goal")
    drafts = sorted(str(t["name"]) for t in listed if str(t.get("name")).startswith("skills."))
    assert drafts == sorted(f"skills.{t.skill}" for t in done.tasks)
    assert len({t["uuid"] for t in listed}) == len(listed)
    assert FLOWER_PASSWORD not in (tmp_path / "flower.err").read_text()


def test_procfile_web_keeps_taking_events_while_slow_clients_hold_connections(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's web command and three clients that start a request and never finish it
    port = free_port()
    env = _env(server, tmp_path, PORT=str(port), MT_WEBHOOK_TOKEN="slow-token")
    proc = launch(["bash", "-c", procfile()["web"]], env, "web")
    wait_for(lambda: _answers(port, "/health") or proc.poll() is not None, 30, "/health")
    slow = []
    for n in range(3):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" if n % 2 else
                     b"POST /webhook HTTP/1.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer slow-token\r\nContent-Length: 5000\r\n\r\n{")
        slow.append(sock)

    # When a valid event arrives
    try:
        status = _post_event(port, "slow-token", timeout_s=20)
    finally:
        for sock in slow:
            sock.close()

    # Then it is answered: a slow client holds one thread, not the worker
    assert status == 202


def test_procfile_web_sends_away_clients_that_stop_sending(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's web command with a 1 s read timeout
    port = _slow_web(server, launch, tmp_path)

    # When one client announces a body it never sends, and another stops mid-headers
    liar = socket.create_connection(("127.0.0.1", port), timeout=30)
    liar.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer slow-token\r\nContent-Length: 5000\r\n\r\n{")
    staller = socket.create_connection(("127.0.0.1", port), timeout=30)
    staller.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ")

    # Then the first gets 408 and the second is hung up on, each after the read timeout
    try:
        assert liar.recv(200).startswith(b"HTTP/1.1 408")
        assert staller.recv(200) == b""
    finally:
        liar.close()
        staller.close()
    assert "Traceback" not in (tmp_path / "web.err").read_text()


def test_procfile_web_cuts_off_clients_that_send_one_byte_at_a_time(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's web command with 2 threads and a 1 s read timeout (2 s per request)
    port = _slow_web(server, launch, tmp_path, MT_WEB_THREADS="2")
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.5 s: always inside the per-read timeout
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /webhook HTTP/1.1\r\nX-Slow: ")
            while not stop.wait(0.5):
                sock.sendall(b"a")

    attackers = [threading.Thread(target=trickle, daemon=True) for _ in range(6)]
    for attacker in attackers:
        attacker.start()

    # When a valid event arrives while three times as many slow clients as threads trickle
    try:
        status = _post_event(port, "slow-token", timeout_s=15)
    finally:
        stop.set()

    # Then it is answered while they are still at it: each was cut off at its deadline
    assert status == 202


def test_procfile_web_logs_each_client_it_sends_away_as_one_rejected_request(
        server: RunningServer, launch: Launch, tmp_path: Path) -> None:
    # Given the Procfile's web command with a 1 s read timeout (2 s per request)
    port = _slow_web(server, launch, tmp_path)
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.5 s: inside the read timeout, cut off at the deadline
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /webhook HTTP/1.1\r\nX-Slow: ")
            while not stop.wait(0.5):
                sock.sendall(b"a")

    # When one client stops mid-headers and another trickles them a byte at a time
    staller = socket.create_connection(("127.0.0.1", port), timeout=30)
    staller.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()

    def rejected() -> list[dict[str, object]] | None:
        found = [r for r in json_lines(tmp_path / "web.err") if r.get("event") == "request_rejected"]
        return found if len(found) >= 2 else None

    try:
        lines = wait_for(rejected, 20, "two request_rejected lines")
    finally:
        stop.set()
        staller.close()

    # Then each is one JSON line: 408, why, and from where
    assert [(r["status"], r["client"]) for r in lines] == [(408, "127.0.0.1")] * 2
    reasons = sorted(str(r["reason"]) for r in lines)
    assert "MT_WEB_READ_TIMEOUT" in reasons[0] and "MT_WEB_READ_TIMEOUT" in reasons[1]
    assert reasons[0] != reasons[1]  # a silent client and a trickling one are told apart
