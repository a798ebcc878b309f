"""The desk's WSGI edge: sign-in, CSRF on every POST, routing, and typed errors to HTTP status once.

Mounted under /desk by the webhook's application (one WSGI app, one gunicorn command).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import quote

import redis

from marketing_team.config.settings import Settings
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import (
    BrokerUnavailableError,
    BudgetError,
    ConfigurationError,
    CorruptStateError,
    IllegalTransitionError,
    InputError,
    LockTimeoutError,
    MarketingTeamError,
    NotFoundError,
)
from marketing_team.orchestration.control import CeleryApp
from marketing_team.web.desk import routes
from marketing_team.web.desk.core import PREFIX, Desk, templates
from marketing_team.web.desk.http import DeskError, Reply, Request, parse_request, redirect
from marketing_team.web.desk.login import login_form, login_submit, session_of
from marketing_team.web.desk.session import Keys, Session

log = logging.getLogger("marketing_team.web.desk")
StartResponse = Any
T = TypeVar("T")
STATIC = {"desk.css": "text/css; charset=utf-8", "desk.js": "text/javascript; charset=utf-8"}
# Scripts and styles only from the desk itself: a string that escaped escaping still cannot run.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "
     "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
     "base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"), ("Cache-Control", "no-store")]


def _static(name: str) -> Reply:
    if name not in STATIC:
        raise DeskError(404, "no such file")
    data = resources.files("marketing_team.web.desk").joinpath("static", name).read_bytes()
    return Reply(200, data, STATIC[name], [("Cache-Control", "max-age=300")])


class DeskApp:
    """The review desk: one per web process."""

    def __init__(self, settings: Settings, runtime: Runtime, celery: CeleryApp) -> None:
        password = settings.console_password
        if password is None:
            raise ConfigurationError("MT_CONSOLE_PASSWORD is not set: the review desk is off")
        self.desk = Desk(settings, runtime, celery,
                         Keys(settings.console_user, password.get_secret_value()), templates())
        self.trusted = settings.trusted_proxies

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request under /desk."""
        session: Session | None = None
        request: Request | None = None
        try:
            request = parse_request(environ, self.trusted)
            path = request.path.removeprefix(PREFIX)
            if path.startswith("/static/") and request.method in ("GET", "HEAD"):
                reply = _static(path.removeprefix("/static/"))  # no session (nor Redis) needed
            else:
                session = self._translate(session_of, self.desk, request)
                reply = self._translate(self._route, request, session)
        except DeskError as err:
            reply = self._refused(err, request, session, environ)
        headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))),
                   *SECURITY_HEADERS, *reply.headers]
        if any(name == "Cache-Control" for name, _ in reply.headers):
            headers = [h for h in headers if h != ("Cache-Control", "no-store")]
        start_response(reply.status_line, headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else reply.body]

    def _route(self, request: Request, session: Session | None) -> Reply:
        if request.path in ("/", PREFIX):
            return redirect(f"{PREFIX}/")
        path = request.path.removeprefix(PREFIX)
        if path == "/login":
            if request.method == "POST":
                return login_submit(self.desk, request)
            if request.method in ("GET", "HEAD"):
                return login_form(self.desk, request, session)
            raise DeskError(405, f"{request.method[:20]} is not allowed here", None,
                            (("Allow", "GET, POST"),))
        found = routes.match(request.method, path)
        if isinstance(found, list):
            if found:
                raise DeskError(405, f"{request.method[:20]} is not allowed here; use "
                                     f"{', '.join(found)}", None, (("Allow", ", ".join(found)),))
            raise DeskError(404, "no such page")
        if session is None:
            if request.method == "GET" and not path.endswith(".json"):
                asked = request.path + (f"?{request.query_string}" if request.query_string else "")
                return redirect(f"{PREFIX}/login?next={quote(asked, safe='/')}")
            raise DeskError(401, "sign in first: your session is missing or has expired")
        if request.method == "POST":
            if not self.desk.keys.csrf_ok(session.nonce, request.form.get("csrf", "")):
                raise DeskError(403, "this form's security token is missing or out of date: "
                                     "reload the page and try again", "csrf")
        handler, parts = found
        return routes.call(handler, self.desk, request, session, parts)

    @staticmethod
    def _translate(work: Callable[..., T], *args: Any) -> T:
        # The one place the desk turns typed errors into HTTP statuses (sign-in included).
        try:
            return work(*args)
        except NotFoundError as exc:
            raise DeskError(404, str(exc)) from None
        except InputError as exc:
            raise DeskError(400, str(exc)) from None
        except IllegalTransitionError as exc:
            raise DeskError(409, f"not possible now: {exc}") from None
        except BudgetError as exc:
            raise DeskError(409, f"the budget does not allow this now: {exc}") from None
        except CorruptStateError as exc:  # one broken record: named, as the goals list does
            log.warning("desk record unreadable", extra={"event": "desk_unreadable",
                                                         "error": str(exc)[:300]})
            raise DeskError(422, f"this record cannot be read: {exc}") from None
        except (redis.RedisError, BrokerUnavailableError, LockTimeoutError) as exc:
            log.warning("desk unavailable", extra={"event": "desk_unavailable",
                                                   "error": type(exc).__name__})
            raise DeskError(503, "the team's Redis is unavailable; try again shortly") from None
        except (KeyboardInterrupt, SystemExit, DeskError):
            raise
        except Exception as exc:  # noqa: BLE001 - the HTTP edge: anything else is ours, logged
            kind = "configuration" if isinstance(exc, MarketingTeamError) else "internal"
            log.exception("desk failed", extra={"event": "desk_failed", "kind": kind,
                                                "error": type(exc).__name__})
            raise DeskError(500, "internal error; see the server log") from None

    def _refused(self, err: DeskError, request: Request | None, session: Session | None,
                 environ: dict[str, Any]) -> Reply:
        if err.status < 500:
            log.warning("desk request refused", extra={
                "event": "desk_refused", "status": err.status, "reason": err.message[:200],
                "field": err.field, "user": session.user if session else None,
                "client": request.client if request else environ.get("REMOTE_ADDR", ""),
                "method": str(environ.get("REQUEST_METHOD", ""))[:20],
                "path": str(environ.get("PATH_INFO", ""))[:100]})
        path = str(environ.get("PATH_INFO", ""))
        if path.endswith(".json"):
            reply = Desk.json({"error": err.message, **({"field": err.field} if err.field else {})})
            reply.status = err.status
        elif request is None:
            text = f"{err.field}: {err.message}" if err.field else err.message
            reply = Reply(err.status, text.encode(), "text/plain; charset=utf-8")
        else:
            reply = self.desk.page("error.html", request, session, err.status, code=err.status,
                                   message=err.message, field=err.field)
        reply.headers.extend(err.headers)
        return reply
