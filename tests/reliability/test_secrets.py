"""Secrets never reach logs, workspace files or CLI output: grep a whole run for them."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
from pathlib import Path

import redis

from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.processes import child_env, spawn, spawn_worker, stop, wait_for
from marketing_team.testing.servers import free_port, start_test_server
from marketing_team.testing.team_responder import offline_responder

API_KEY = "sk-ant-SECRETKEY-4d9f2b"
REDIS_PASSWORD = "pw-SECRETPW-81c3"
WEBHOOK_TOKEN = "tok-SECRETTOKEN-77aa"
SECRETS = (API_KEY, REDIS_PASSWORD, WEBHOOK_TOKEN)


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def test_reliability_secrets_appear_in_no_log_file_or_output(tmp_path: Path) -> None:
    server = start_test_server(tmp_path / "server")
    try:
        redis.Redis.from_url(server.url).config_set("requirepass", REDIS_PASSWORD)
        url = server.url.replace("redis://", f"redis://:{REDIS_PASSWORD}@", 1)
        with FakeAnthropic(responder=offline_responder()) as fake:
            env = {"REDIS_URL": url, "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": fake.url,
                   "MT_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "WORKSPACE_DIR": str(tmp_path / "ws"),
                   "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
            outputs = [_run(env, "--verbose", "goal", "Increase signup conversion by 20%", "--json",
                            "--embedded-worker")]
            goal_id = json.loads(outputs[0][outputs[0].index('{"goal_id"'):].splitlines()[0])["goal_id"]
            outputs += [_run(env, "goals", "show", goal_id), _run(env, "budget", "--json"),
                        _run(env, "health", "--json"), _run(env, "learnings", "list"),
                        _run({**env, "REDIS_URL": url.replace(REDIS_PASSWORD, REDIS_PASSWORD + "x")},
                             "goal", "Grow", "--detach"),
                        _run({**env, "ANTHROPIC_BASE_URL": "http://127.0.0.1:1", "MT_LLM_MAX_RETRIES": "0"},
                             "--verbose", "goal", "Grow signups", "--dry-run")]
            sent = " ".join(" ".join(r.headers.values()) for r in fake.requests)
        files = [p for p in (tmp_path / "ws").rglob("*") if p.is_file()]
        texts = outputs + [p.read_text(errors="replace") for p in files]
    finally:
        server.stop()

    assert API_KEY in sent  # the key did go where it belongs
    assert "Redis is unreachable" in outputs[-2] or "AuthenticationError" in outputs[-2]
    for secret in SECRETS:
        leaks = [t[:200] for t in texts if secret in t]
        assert leaks == [], f"{secret} leaked"


def test_reliability_no_worker_setting_shows_the_redis_password(tmp_path: Path) -> None:
    server = start_test_server(tmp_path / "server")
    worker = None
    try:
        redis.Redis.from_url(server.url).config_set("requirepass", REDIS_PASSWORD)
        url = server.url.replace("redis://", f"redis://:{REDIS_PASSWORD}@", 1)
        env = {"REDIS_URL": url, "WORKSPACE_DIR": str(tmp_path / "ws")}
        worker = spawn_worker(env, tmp_path / "worker.log", name="secrets")
        conf = wait_for(lambda: _conf(env), 60, "the worker to answer inspect conf")
        port = free_port()
        flower = spawn(["-m", "celery", "-A", "marketing_team", "flower", f"--port={port}"],
                       {**env, "MT_FLOWER_PASSWORD": FLOWER_PASSWORD}, tmp_path / "flower.log")
        try:
            shown = wait_for(lambda: _flower_workers(port), 60, "flower to list the worker")
            anonymous = _get(port, "/api/workers", None)
        finally:
            stop(flower)
    finally:
        if worker is not None:
            stop(worker)
        server.stop()

    assert "redbeat_redis_url" in conf and "broker_url" in conf  # it did report its settings
    assert REDIS_PASSWORD not in conf
    assert "redbeat_redis_url" in shown and REDIS_PASSWORD not in shown
    assert anonymous[0] == 401  # flower's basic auth came from the environment
    for log in ("worker.log", "flower.log"):
        text = (tmp_path / log).read_text()
        assert REDIS_PASSWORD not in text and FLOWER_PASSWORD not in text


FLOWER_PASSWORD = "fl-SECRETFLOWER-5e6f"


def _get(port: int, path: str, auth: str | None) -> tuple[int, str]:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    finally:
        conn.close()


def _flower_workers(port: int) -> str | None:
    try:
        status, body = _get(port, "/api/workers?refresh=1", f"admin:{FLOWER_PASSWORD}")
    except OSError:
        return None
    return body if status == 200 and "redbeat_redis_url" in body else None


def _conf(env: dict[str, str]) -> str | None:
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "marketing_team", "inspect", "conf",
                           "--timeout", "2"], env=child_env(env), capture_output=True, text=True,
                          timeout=60)
    return done.stdout if "redbeat_redis_url" in done.stdout else None
