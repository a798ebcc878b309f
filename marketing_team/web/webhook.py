"""The WSGI webhook (no framework): `POST /webhook` queues events for the workers; `/health`, `/metrics`;
and, when MT_CONSOLE_PASSWORD is set, the review desk under `/desk`."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError

from marketing_team.config.settings import Settings
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.errors import (
    BrokerUnavailableError,
    BudgetError,
    ConfigurationError,
    LockTimeoutError,
)
from marketing_team.domain.event import INTERNAL_EVENTS, Event
from marketing_team.orchestration.app import create_app as create_celery
from marketing_team.orchestration.control import CeleryApp
from marketing_team.orchestration.dispatch import queue_claimed_event
from marketing_team.triggers import cooldown, event_bus
from marketing_team.web import read_deadline
from marketing_team.web import status as pages
from marketing_team.web.desk.app import DeskApp
from marketing_team.web.desk.http import forwarded_client

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
StartResponse = Callable[..., Any]
_ROUTES = {"/webhook": "POST", "/health": "GET", "/metrics": "GET"}
SEEN_PREFIX = "mt:webhook:seen:"  # signatures accepted within the tolerance window
_STATUS = {200: "200 OK", 202: "202 Accepted", 400: "400 Bad Request", 401: "401 Unauthorized",
           408: "408 Request Timeout",
           404: "404 Not Found", 405: "405 Method Not Allowed", 413: "413 Content Too Large",
           415: "415 Unsupported Media Type", 500: "500 Internal Server Error",
           503: "503 Service Unavailable"}


class HttpError(Exception):
    """A request the webhook answers with an error status and a JSON body naming the problem."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


@dataclass
class WebhookApp:
    """The WSGI callable: one per web process, publishing to Redis through its own Celery app."""

    settings: Settings
    runtime: Runtime
    celery: CeleryApp
    token: bytes | None
    hmac_secret: bytes | None
    desk: DeskApp | None = None  # the review desk, on when MT_CONSOLE_PASSWORD is set
    webhook_on: bool = True  # off when only the desk is configured (no token, not insecure)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Route one request; client mistakes get 4xx, never 5xx."""
        path = environ.get("PATH_INFO") or "/"
        if self.desk is not None and (path in ("/", "/desk") or path.startswith("/desk/")):
            return self.desk(environ, start_response)
        try:
            status, body, headers = self._route(environ)
        except HttpError as err:
            status, headers = err.status, err.headers
            body = {"error": err.message, **({"field": err.field} if err.field else {})}
            # One line per refusal: what and why, from where; never the body or a credential.
            # (A 5xx was logged where it happened, with its cause.) The client is what a trusted
            # proxy says it is (behind the README's nginx every peer is 127.0.0.1).
            if err.status < 500:
                log.warning("request rejected", extra={
                    "event": "request_rejected", "status": err.status, "reason": err.message[:200],
                    "field": err.field, "peer": str(environ.get("REMOTE_ADDR", ""))[:64],
                    "client": str(forwarded_client(environ, self.settings.trusted_proxies)),
                    "method": str(environ.get("REQUEST_METHOD", ""))[:20],
                    "path": str(environ.get("PATH_INFO", ""))[:100]})
        if isinstance(body, str):
            payload, ctype = body.encode(), "text/plain; version=0.0.4; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode(), "application/json"
        start_response(_STATUS[status], [("Content-Type", ctype), ("Content-Length", str(len(payload))),
                                         *headers])
        return [payload]

    def _route(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any] | str, tuple[tuple[str, str], ...]]:
        path, method = environ.get("PATH_INFO") or "/", environ.get("REQUEST_METHOD", "GET").upper()
        allowed = _ROUTES.get(path)
        if allowed is None:
            raise HttpError(404, f"no such path: {path[:100]}")
        if method != allowed:
            raise HttpError(405, f"{method[:20]} is not allowed on {path}; use {allowed}",
                            headers=(("Allow", allowed),))
        try:
            if method != "POST":
                read_deadline.request_read()  # nothing more to receive: /health may take its time
            if path == "/health":
                healthy, report = pages.health(self.runtime, self.celery)
                return (200 if healthy else 503), report, ()
            if path == "/metrics":
                return 200, pages.metrics(self.runtime), ()
            return 202, self._webhook(environ), ()
        except (redis.RedisError, BrokerUnavailableError, LockTimeoutError) as exc:
            log.warning("webhook unavailable", extra={"event": "webhook_unavailable",
                                                      "error": type(exc).__name__})
            raise HttpError(503, "the team's Redis is unavailable; retry later") from None
        except BudgetError:
            # The level changed between the bus's check and the publish: nothing runs now.
            raise HttpError(503, "the budget does not allow this work now; retry later") from None
        except (HttpError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the HTTP edge: anything else is our fault, not the client's
            log.error("webhook failed", extra={"event": "webhook_failed", "error": type(exc).__name__,
                                               "kind": "configuration" if isinstance(exc, ConfigurationError)
                                               else "internal"})
            raise HttpError(500, "internal error; see the server log") from None

    def _webhook(self, environ: dict[str, Any]) -> dict[str, Any]:
        if not self.webhook_on:
            raise HttpError(404, "the webhook is off on this server: MT_WEBHOOK_TOKEN is not set")
        self._authorize(environ)
        _check_content_type(environ.get("CONTENT_TYPE", ""))
        body = _read_body(environ)
        signature = self._verify_signature(environ, body)
        return self._queue(parse_event(body), signature)

    def _queue(self, event: Event, signature: str | None) -> dict[str, Any]:
        # The web process plans and starts nothing: it claims the id and hands the event to a
        # worker, so a slow planning call never holds a request and the web keeps no disk.
        client = self.runtime.redis
        # The claim names the message that will handle the event. It is short: a web process
        # dying before the message is queued frees the id for the sender's retry. The worker that
        # handles the message extends it to the dedup window (the web spends no round trip on
        # that); a retry after the short claim lapsed queues a second message under a new
        # claim, and the worker drops whichever message the claim does not name, so one runs.
        try:
            if not queue_claimed_event(self.celery, self.runtime, event,
                                       self.runtime.settings.heartbeat_timeout_s):
                return {"event_id": event.id, "status": "duplicate", "reason": "duplicate", "cooldowns": []}
        except BaseException:
            # Nothing queued: the sender may retry, with the same signed bytes too (unless Redis
            # is down, when the signature lapses after twice the tolerance).
            if signature is not None:
                with contextlib.suppress(redis.RedisError):
                    client.delete(signature)
            raise
        log.info("event queued", extra={"event": "event_queued", "event_id": event.id,
                                        "event_type": event.type.value})
        # The worker decides; a cooldown another event holds is said now, with the time left, so
        # the sender learns why no goal may follow without polling for the outcome.
        waits = cooldown.held(client, event_bus.mappings_for(self.runtime.catalog.events, event.type))
        return {"event_id": event.id, "status": "queued", "reason": None,
                "cooldowns": [wait.as_json() for wait in waits]}

    def _authorize(self, environ: dict[str, Any]) -> None:
        if self.token is None:  # insecure mode, chosen explicitly at start
            return
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        challenge = (("WWW-Authenticate", 'Bearer realm="marketing-team"'),)
        if scheme.lower() != "bearer" or not given.strip():
            raise HttpError(401, "missing bearer token", "Authorization", challenge)
        if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), self.token):
            raise HttpError(401, "invalid bearer token", "Authorization", challenge)

    def _verify_signature(self, environ: dict[str, Any], body: bytes) -> str | None:
        """`X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`: fresh, matching, and unseen.

        The timestamp must be within MT_WEBHOOK_TOLERANCE of now, and each signature is accepted
        once (remembered for twice the tolerance), so captured bytes cannot be replayed. Returns
        the key remembering it (None when requests are not signed).
        """
        if self.hmac_secret is None:
            return None
        fields: dict[str, list[str]] = {}
        for part in environ.get("HTTP_X_SIGNATURE", "").split(","):
            name, _, value = part.strip().partition("=")
            fields.setdefault(name, []).append(value.strip().lower())
        stamp, given = (fields.get("t") or [""])[0], fields.get("v1") or []
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
            raise HttpError(401, "missing signature: expected t=<unix time>,v1=<hex>", "X-Signature")
        tolerance = self.settings.webhook_tolerance_s
        if abs(time.time() - int(stamp)) > tolerance:
            raise HttpError(401, f"signature timestamp outside the {tolerance} s tolerance",
                            "X-Signature")
        expected = hmac.new(self.hmac_secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        match = next((v for v in given if hmac.compare_digest(v.encode("utf-8", "replace"),
                                                              expected.encode())), None)
        if match is None:
            raise HttpError(401, "signature does not match the timestamp and body", "X-Signature")
        seen = f"{SEEN_PREFIX}{match}"
        if not self.runtime.redis.set(seen, "1", nx=True, ex=2 * tolerance):
            raise HttpError(401, "signature already used: a replay is refused", "X-Signature")
        return seen


def _check_content_type(value: str) -> None:
    media, _, params = value.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise HttpError(415, f"Content-Type must be application/json, not {media[:60] or 'missing'!r}",
                        "Content-Type")
    charset = params.strip().lower()
    if charset.startswith("charset=") and charset[8:].strip('"') not in ("utf-8", "utf8"):
        raise HttpError(415, "the JSON body must be UTF-8", "Content-Type")


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        body = _body_of(environ)
        read_deadline.request_read()
        return body
    except OSError:
        # The server's read timeout: a client announcing more than it sends is sent away.
        raise HttpError(408, "the body did not arrive in time", "body") from None


def _body_of(environ: dict[str, Any]) -> bytes:
    raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ["wsgi.input"]
    if not raw_length:
        # No length: only a chunked body can be read safely (a plain read would wait for EOF).
        if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            raise HttpError(400, "empty body: a JSON event is required", "body")
        body: bytes = stream.read(MAX_BODY_BYTES + 1)
    else:
        if not raw_length.isdigit():
            raise HttpError(400, "Content-Length is not a number", "Content-Length")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            raise HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes", "body")
        body = stream.read(length) if length else b""
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes", "body")
    if not body:
        raise HttpError(400, "empty body: a JSON event is required", "body")
    return body


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON (Python's parser accepts them; Infinity would pass every
    `gt` condition of a mapping and NaN every `neq`)."""
    raise HttpError(400, f"body is not valid JSON: {name} is not a JSON number", "body")


def parse_event(body: bytes) -> Event:
    """The Event in a JSON body, or HttpError 400 naming the field (or `body`) that is wrong."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise HttpError(400, "body is not UTF-8", "body") from None
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                        "body") from None
    except (ValueError, RecursionError):  # integers too long to parse, nesting too deep
        raise HttpError(400, "body is not acceptable JSON (too deeply nested or a number too long)",
                        "body") from None
    if not isinstance(data, dict):
        raise HttpError(400, "body must be a JSON object", "body")
    data.setdefault("source", "webhook")
    try:
        event = Event.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise HttpError(400, f"{field}: {first.get('msg', 'invalid value')}"[:300], field) from None
    except RecursionError:
        raise HttpError(400, "data is too deeply nested", "data") from None
    if event.type in INTERNAL_EVENTS:
        # Internal events come from the team itself; a sender must not forge a budget alarm.
        raise HttpError(400, f"type: {event.type.value} is an internal event and cannot be sent "
                             "by webhook", "type")
    return event


def require_token(settings: Settings, insecure: bool) -> str:
    """The webhook token ("" for none); ConfigurationError when there is none, insecure was not
    chosen and there is no review desk to serve either."""
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else ""
    if not token and not insecure and settings.console_password is None:
        raise ConfigurationError("MT_WEBHOOK_TOKEN is not set: the webhook refuses to start without "
                                 "a token (set MT_CONSOLE_PASSWORD to serve only the review desk; "
                                 "use --insecure only on a trusted network)")
    return token


def create_webhook_app(settings: Settings, *, insecure: bool = False, broker_url: str | None = None) -> WebhookApp:
    """A webhook app; refuses to start without MT_WEBHOOK_TOKEN unless insecure is chosen."""
    token = require_token(settings, insecure)
    url = broker_url or settings.broker_url
    if url is None:
        raise ConfigurationError("the webhook needs REDIS_URL (the workers' Redis) to publish to")
    secret = settings.webhook_hmac_secret.get_secret_value() if settings.webhook_hmac_secret else ""
    if insecure and not token:
        log.warning("webhook running without a token", extra={"event": "webhook_insecure"})
    runtime = build_runtime(settings, url)
    celery = create_celery(settings, url, runtime)
    desk = DeskApp(settings, runtime, celery) if settings.console_password is not None else None
    return WebhookApp(settings=settings, celery=celery, runtime=runtime,
                      token=token.encode() if token else None,
                      hmac_secret=secret.encode() if secret else None, desk=desk,
                      webhook_on=bool(token) or insecure)
