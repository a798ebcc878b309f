"""Signed webhooks: the timestamped HMAC form, its tolerance, replays refused, retries allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import pytest

from marketing_team.orchestration.queues import queue_keys
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import call, web_app
from marketing_team.web.webhook import WebhookApp
from tests.web.webhook_support import GOOD, JSON, dispatched_nothing, error_of


def _signed(quiet_team: Team) -> WebhookApp:
    return web_app(quiet_team, webhook_hmac_secret="s3cret-hmac")


def _signature(body: bytes, stamp: int | None = None, secret: bytes = b"s3cret-hmac") -> str:
    """How a sender signs: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">."""
    t = int(time.time()) if stamp is None else stamp
    return f"t={t},v1=" + hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_webhook_with_hmac_secret_accepts_a_correct_signature(quiet_team: Team) -> None:
    reply = call(_signed(quiet_team), body=GOOD, headers={**JSON, "X-Signature": _signature(GOOD)})

    assert reply.status == 202 and reply.json()["status"] == "queued"


# Each wrong signature is built when its test runs (a timestamp taken at collection would give
# each xdist worker different test ids).
WRONG_SIGNATURES: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "empty": lambda: "t=,v1=",
    "body-only zeros": lambda: "sha256=" + "0" * 64,
    "fresh t, wrong hmac": lambda: f"t={int(time.time())},v1=" + "0" * 64,
    # the body-only form a captured request used to carry (replayable forever): refused now
    "body-only, right hmac": lambda: "sha256=" + hmac.new(b"s3cret-hmac", GOOD, hashlib.sha256).hexdigest(),
    "another secret": lambda: _signature(GOOD, secret=b"another-secret"),
    # timestamps that are not small ASCII numbers: never a 500
    "superscript t": lambda: "t=\u00b2,v1=" + "0" * 64,
    "huge t": lambda: "t=1" + "0" * 400 + ",v1=" + "0" * 64,
    "5000-digit t": lambda: "t=" + "9" * 5000 + ",v1=ab",
}


@pytest.mark.parametrize("kind", sorted(WRONG_SIGNATURES))
def test_webhook_with_hmac_secret_refuses_a_missing_or_wrong_signature(quiet_team: Team, kind: str) -> None:
    signature = WRONG_SIGNATURES[kind]()
    headers = dict(JSON)
    if signature is not None:
        headers["X-Signature"] = signature

    reply = call(_signed(quiet_team), body=GOOD, headers=headers)

    error_of(reply, 401, "X-Signature")
    assert "s3cret" not in reply.body.decode()
    assert dispatched_nothing(quiet_team)


def test_webhook_refuses_a_signature_older_than_the_tolerance(quiet_team: Team) -> None:
    old = _signature(GOOD, stamp=int(time.time()) - 301)

    reply = call(_signed(quiet_team), body=GOOD, headers={**JSON, "X-Signature": old})

    assert "outside the 300 s tolerance" in error_of(reply, 401, "X-Signature")
    assert dispatched_nothing(quiet_team)


def test_webhook_refuses_the_same_signed_request_sent_twice(quiet_team: Team) -> None:
    # A body without an id gets a new event id on every receipt: only the signature can tell
    no_id = json.dumps({"type": "new_blog_post", "data": {"url": "https://x.test/b"}}).encode()
    headers = {**JSON, "X-Signature": _signature(no_id)}
    web = _signed(quiet_team)

    first = call(web, body=no_id, headers=headers)
    replayed = call(web, body=no_id, headers=headers)

    assert first.status == 202
    assert "already used" in error_of(replayed, 401, "X-Signature")


def test_a_signed_request_that_queued_nothing_can_be_sent_again(quiet_team: Team) -> None:
    body = json.dumps({"id": "evt-signed-retry", "type": "new_blog_post",
                       "data": {"url": "https://x.test/c"}}).encode()
    headers = {**JSON, "X-Signature": _signature(body)}
    web = _signed(quiet_team)
    # Given director queues Redis refuses to push to (each key holds a string, not a list)
    director = [key for key in queue_keys() if key.startswith("director")]
    quiet_team.rt.redis.mset(dict.fromkeys(director, "not a list"))

    refused = call(web, body=body, headers=headers)
    quiet_team.rt.redis.delete(*director)
    retried = call(web, body=body, headers=headers)

    # Then nothing was queued the first time, so the sender's same signed bytes are accepted
    assert refused.status == 503
    assert retried.status == 202 and retried.json()["status"] == "queued", retried.body


def test_a_signed_request_whose_event_claim_failed_can_be_sent_again(quiet_team: Team) -> None:
    body = json.dumps({"id": "evt-claim-broke", "type": "new_blog_post",
                       "data": {"url": "https://x.test/e"}}).encode()
    headers = {**JSON, "X-Signature": _signature(body)}
    web = _signed(quiet_team)
    # Given an event id claim Redis refuses to take (the key holds a hash, not a string)
    quiet_team.rt.redis.hset("mt:events:seen:evt-claim-broke", "x", "1")

    refused = call(web, body=body, headers=headers)
    quiet_team.rt.redis.delete("mt:events:seen:evt-claim-broke")
    retried = call(web, body=body, headers=headers)

    assert refused.status == 503
    assert retried.status == 202 and retried.json()["status"] == "queued", retried.body
