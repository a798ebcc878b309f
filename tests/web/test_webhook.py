"""The webhook's HTTP contract in-process: every bad input gets its status and names the problem."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.beat import write_heartbeat
from marketing_team.orchestration.queues import queue_keys
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import free_port
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, call, post_event, web_app
from marketing_team.web.webhook import MAX_BODY_BYTES, WebhookApp, create_webhook_app
from tests.web.webhook_support import GOOD, JSON, dispatched_nothing, error_of


@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("POST", "/nope", 404, None), ("GET", "/", 404, None), ("GET", "/webhook/", 404, None),
    ("GET", "/webhook", 405, "POST"), ("PUT", "/webhook", 405, "POST"),
    ("POST", "/health", 405, "GET"), ("DELETE", "/metrics", 405, "GET"),
])
def test_webhook_wrong_path_or_method_is_refused(web: WebhookApp, quiet_team: Team, method: str,
                                                 path: str, status: int, allow: str | None) -> None:
    reply = call(web, method, path, GOOD, JSON)

    message = error_of(reply, status, None)
    assert path.rstrip("/") in message or method in message or "/" in message
    assert reply.headers.get("Allow") == allow
    assert dispatched_nothing(quiet_team)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong-token",
                                           f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ☃"])
def test_webhook_without_the_right_bearer_token_is_401(web: WebhookApp, quiet_team: Team,
                                                       authorization: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization

    reply = call(web, body=GOOD, headers=headers)

    assert "token" in error_of(reply, 401, "Authorization")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in reply.body.decode()
    assert dispatched_nothing(quiet_team)


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", "multipart/form-data"])
def test_webhook_non_json_content_type_is_415(web: WebhookApp, quiet_team: Team, content_type: str) -> None:
    reply = call(web, body=GOOD, headers={**JSON, "Content-Type": content_type})

    error_of(reply, 415, "Content-Type")
    assert dispatched_nothing(quiet_team)


def test_webhook_accepts_json_with_charset_and_vendor_json_types(web: WebhookApp) -> None:
    for content_type in ("application/json; charset=utf-8", "application/cloudevents+json"):
        body = json.dumps({"type": "new_blog_post", "data": {"n": content_type}}).encode()
        assert call(web, body=body, headers={**JSON, "Content-Type": content_type}).status == 202


def test_webhook_body_over_64_kib_is_413_without_being_read(web: WebhookApp, quiet_team: Team) -> None:
    reply = call(web, body=b"", headers={**JSON, "Content-Length": str(MAX_BODY_BYTES + 1)})

    assert "larger than" in error_of(reply, 413, "body")
    assert dispatched_nothing(quiet_team)


def test_webhook_chunked_body_over_64_kib_is_413(web: WebhookApp, quiet_team: Team) -> None:
    big = json.dumps({"type": "new_blog_post", "data": {"x": "y" * MAX_BODY_BYTES}}).encode()

    reply = call(web, body=big, headers={**JSON, "Content-Length": "", "Transfer-Encoding": "chunked"})

    error_of(reply, 413, "body")
    assert dispatched_nothing(quiet_team)


def test_webhook_body_of_exactly_64_kib_is_accepted(web: WebhookApp) -> None:
    base = json.dumps({"type": "new_blog_post", "data": {"pad": ""}}).encode()
    body = json.dumps({"type": "new_blog_post",
                       "data": {"pad": "p" * (MAX_BODY_BYTES - len(base))}}).encode()

    assert len(body) == MAX_BODY_BYTES
    assert call(web, body=body, headers=JSON).status == 202


@pytest.mark.parametrize(("body", "field", "words"), [
    (b"", "body", "empty"),
    (b"{not json", "body", "not valid JSON"),
    (b"\xff\xfe{}", "body", "UTF-8"),
    (b"[1, 2]", "body", "JSON object"),
    (b"[" * 5000 + b"]" * 5000, "body", "nested"),
    (b'{"data": {}}', "type", "Field required"),
    (b'{"type": "traffic_jump"}', "type", "traffic_drop"),
    (b'{"type": "budget_warning"}', "type", "internal event"),
    (b'{"type": "traffic_drop", "data": [1]}', "data", "dictionary"),
    (b'{"type": "traffic_drop", "colour": "red"}', "colour", "Extra inputs"),
    (b'{"type": "traffic_drop", "id": ""}', "id", "at least 1"),
    (b'{"type": "traffic_drop", "timestamp": "yesterday"}', "timestamp", "datetime"),
    # Python's parser takes these; JSON has no such numbers (Infinity passed every `gt` condition)
    (b'{"type": "traffic_drop", "data": {"percentageDrop": Infinity}}', "body", "Infinity"),
    (b'{"type": "traffic_drop", "data": {"percentageDrop": NaN}}', "body", "NaN"),
])
def test_webhook_invalid_event_is_400_naming_the_field(web: WebhookApp, quiet_team: Team, body: bytes,
                                                       field: str, words: str) -> None:
    reply = call(web, body=body, headers={**JSON, "Content-Length": str(len(body))})

    assert words in error_of(reply, 400, field)
    assert dispatched_nothing(quiet_team)


def test_webhook_bad_content_length_is_400(web: WebhookApp, quiet_team: Team) -> None:
    reply = call(web, body=GOOD, headers={**JSON, "Content-Length": "12abc"})

    error_of(reply, 400, "Content-Length")
    assert dispatched_nothing(quiet_team)


def test_a_queued_event_shows_monitors_its_type_and_id_not_its_data(web: WebhookApp, quiet_team: Team) -> None:
    event = {"id": "evt-private", "type": "new_blog_post",
             "data": {"url": "https://x.test/d", "author_email": "jane@example.test"}}

    assert post_event(web, event).json()["status"] == "queued"

    # Then the message Flower and `celery inspect` describe carries the data only in its body
    [raw] = [m for key in queue_keys() for m in quiet_team.rt.redis.lrange(key, 0, -1)]
    headers = json.loads(raw)["headers"]
    assert headers["task"] == "triggers.handle_event"
    assert headers["argsrepr"] == "(new_blog_post event evt-private)"
    assert "jane@example.test" not in json.dumps(headers)


def test_every_rejected_request_is_one_log_line_without_body_or_credentials(
        web: WebhookApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="marketing_team.web.webhook"):
        call(web, body=GOOD, headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer wrong-token-123"})
        call(web, body=b"{" * 10, headers=JSON)
        call(web, body=GOOD, headers={**JSON, "Content-Type": "text/plain"})

    rejected = [r for r in caplog.records if getattr(r, "event", "") == "request_rejected"]
    assert [r.status for r in rejected] == [401, 400, 415]  # type: ignore[attr-defined]
    assert all(r.client for r in rejected)  # type: ignore[attr-defined]
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in rejected)
    assert "wrong-token-123" not in text and TOKEN not in text and "new_blog_post" not in text


def test_a_rejected_request_behind_the_trusted_proxy_is_logged_with_the_real_client(
        web: WebhookApp, caplog: pytest.LogCaptureFixture) -> None:
    # Behind the README's nginx every peer is 127.0.0.1: the client is what the proxy says
    with caplog.at_level(logging.WARNING, logger="marketing_team.web.webhook"):
        call(web, body=GOOD, headers={**JSON, "Authorization": "Bearer wrong-token-123",
                                      "X-Forwarded-For": "198.51.100.4, 203.0.113.9"})

    rejected = [r for r in caplog.records if getattr(r, "event", "") == "request_rejected"]
    assert [(r.status, r.client, r.peer) for r in rejected] == [  # type: ignore[attr-defined]
        (401, "203.0.113.9", "127.0.0.1")]


def test_webhook_refuses_to_start_without_a_token(quiet_team: Team) -> None:
    cfg = load_settings(_env_file=None, workspace_dir=quiet_team.settings.workspace_dir,
                        redis_url=quiet_team.server.url)

    with pytest.raises(ConfigurationError, match="MT_WEBHOOK_TOKEN"):
        create_webhook_app(cfg)
    insecure = create_webhook_app(cfg, insecure=True)
    assert call(insecure, body=GOOD, headers={"Content-Type": "application/json"}).status == 202


def test_webhook_health_reports_components_and_counts_workers_without_secrets(team: Team) -> None:
    # Given a team with one (in-process) worker and a fresh beat heartbeat
    web = web_app(team, webhook_hmac_secret="s3cret-hmac")
    write_heartbeat(team.rt.redis)

    reply = call(web, "GET", "/health")

    assert reply.status == 200
    body = reply.json()
    assert body["components"]["redis"] == "ok" and body["components"]["beat"] == "ok"
    assert body["components"]["workers"] == "ok" and body["workers"] == 1
    assert body["components"]["budget"] == "normal" and body["status"] == "ok"
    assert TOKEN not in reply.body.decode() and "s3cret" not in reply.body.decode()
    assert str(team.server.port) not in reply.body.decode()


def test_webhook_health_without_a_worker_is_503_saying_queued_events_wait(web: WebhookApp,
                                                                         quiet_team: Team) -> None:
    # Given Redis and beat answer but no worker runs
    write_heartbeat(quiet_team.rt.redis)

    reply = call(web, "GET", "/health")

    # Then the team is down, counted and explained: events are accepted but nothing handles them
    assert reply.status == 503
    body = reply.json()
    assert body["status"] == "down" and body["workers"] == 0
    assert body["components"]["workers"] == "down" and "no worker" in body["reason"]


def test_webhook_health_without_a_beat_is_degraded(team: Team) -> None:
    web = web_app(team)
    # Asked until the worker answers its ping (a loaded machine may miss the first one's deadline)
    body = wait_for(lambda: (b := call(web, "GET", "/health").json())["workers"] > 0 and b, 30,
                    "the worker to answer the health check's ping")

    assert body["status"] == "degraded" and body["components"]["beat"].startswith("absent")


def test_webhook_metrics_count_goals_and_tasks_by_status(web: WebhookApp, quiet_team: Team) -> None:
    quiet_team.pipeline("Content Production")  # published, and no worker to take it

    reply = call(web, "GET", "/metrics")

    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = reply.body.decode()
    assert 'mt_goals{status="running"} 1' in text
    assert 'mt_tasks{status="pending"} ' in text and 'mt_tasks{status="approved"} 0' in text
    assert 'mt_budget_level{level="normal"} 1' in text and "mt_spend_usd 0" in text
    assert "# TYPE mt_goals gauge" in text


_HEADER_VALUES = st.one_of(st.text(max_size=40), st.sampled_from(
    ["application/json", f"Bearer {TOKEN}", "Bearer", "chunked", "-1", "99999999", "0", "5"]))
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["type", "id", "data", "source", "timestamp", "x"]) | st.text(max_size=5),
                     inner, max_size=4), max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(["traffic_drop", "new_blog_post", "budget_warning", "x"]),
                           "data": st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8),
                                                   max_size=3)},
                          optional={"id": st.text(max_size=140), "source": st.text(max_size=210),
                                    "timestamp": st.text(max_size=30)}).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["POST", "GET", "PUT", "HEAD", "OPTIONS", "PATCH", "", "post"]),
       path=st.sampled_from(["/webhook", "/health", "/metrics", "/", "/webhook/x", "//", ""]),
       body=_BODIES,
       headers=st.dictionaries(st.sampled_from(["Content-Type", "Authorization", "Content-Length",
                                                "X-Signature", "Transfer-Encoding", "X-Other"]),
                               _HEADER_VALUES, max_size=6))
def test_webhook_random_requests_never_get_a_5xx(web: WebhookApp, method: str, path: str, body: bytes,
                                                 headers: dict[str, Any]) -> None:
    reply = call(web, method, path, body, headers)

    if (method, path) == ("GET", "/health"):
        # No worker runs beside this web: the team is down (503), whatever the request carried.
        assert reply.status == 503 and reply.json()["workers"] == 0, reply.body
    else:
        assert 200 <= reply.status < 500, (reply.status, reply.body)
    json.loads(reply.body) if reply.headers["Content-Type"] == "application/json" else None


def test_webhook_plans_nothing_itself_it_queues_the_event_for_a_worker(
        web: WebhookApp, quiet_team: Team) -> None:
    # Given a web process and no worker
    reply = call(web, body=GOOD, headers=JSON)

    # Then the event waits in the director queue as triggers.handle_event; nothing was planned
    assert reply.status == 202 and reply.json()["status"] == "queued"
    client = quiet_team.rt.redis
    queues = [key for key in client.scan_iter("director*") if client.type(key) == b"list"]
    [message] = [json.loads(raw) for key in queues for raw in client.lrange(key, 0, -1)]
    assert message["headers"]["task"] == "triggers.handle_event"
    assert quiet_team.rt.goals.ids() == []
    assert not quiet_team.settings.workspace.exists()  # the web keeps no disk


def test_webhook_health_when_the_workers_ping_cannot_reach_the_broker_is_503(team: Team) -> None:
    # Given Redis answers the health check's own ping, but the broker connection that asks the
    # workers cannot be made (Redis went away between the two)
    web = web_app(team)
    unreachable = build_app(team.settings, broker_url=f"redis://127.0.0.1:{free_port()}/0")

    reply = call(dataclasses.replace(web, celery=unreachable), "GET", "/health")

    # Then the team reads as unavailable, as when Redis is down, never as an internal error
    assert reply.status == 503, reply.body
    assert "unavailable" in error_of(reply, 503, None)
