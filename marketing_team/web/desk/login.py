"""Signing in and out of the desk: the login form, its check, the session cookie.

Failed attempts are counted per client address in Redis (all web processes share the count):
after MAX_FAILURES within FAILURE_WINDOW_S the address is refused until the window passes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.session import (
    LOGIN_COOKIE,
    LOGIN_FORM_S,
    SESSION_COOKIE,
    SESSION_S,
    Session,
)

log = logging.getLogger("marketing_team.web.desk")
MAX_FAILURES = 10
FAILURE_WINDOW_S = 900
_FAILURES = "mt:desk:login_failures:"


def _cookie(name: str, value: str, max_age: int, secure: bool) -> tuple[str, str]:
    # HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it.
    flags = f"; Path={PREFIX}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return "Set-Cookie", f"{name}={value}{flags}{'; Secure' if secure else ''}"


def session_of(desk: Desk, request: Request) -> Session | None:
    """The request's valid session, or None."""
    return desk.keys.session(request.cookies.get(SESSION_COOKIE))


def _next(request: Request) -> str:
    # Only a path inside the desk: a crafted `next` never sends a person elsewhere.
    target = request.form.get("next") or request.query.get("next") or f"{PREFIX}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/") or "\\" in target:
        return f"{PREFIX}/"
    return target


def login_form(desk: Desk, request: Request, session: Session | None,
               message: str | None = None, status: int = 200) -> Reply:
    """The form, with a fresh nonce in its own short-lived cookie and its token in the form."""
    if session is not None and message is None:
        return redirect(_next(request))
    nonce = desk.keys.login_nonce()
    reply = desk.page("login.html", request, None, status, login_csrf=desk.keys.csrf_token(f"login:{nonce}"),
                      next=_next(request), message=message)
    reply.headers.append(_cookie(LOGIN_COOKIE, nonce, LOGIN_FORM_S, request.secure))
    return reply


def login_submit(desk: Desk, request: Request) -> Reply:
    """Check the token, then the credentials; set the session cookie and go where the person was."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not desk.keys.csrf_ok(f"login:{nonce}", request.form.get("csrf", "")):
        raise DeskError(403, "this form's security token is missing or out of date: reload the "
                             "page and try again", "csrf")
    client = desk.runtime.redis
    key = f"{_FAILURES}{request.client or 'unknown'}"
    failures = int(client.get(key) or 0)
    if failures >= MAX_FAILURES:
        raise DeskError(429, "too many failed sign-ins from this address; try again in 15 minutes")
    user = request.form.get("user", "")
    if not desk.keys.credentials_match(user, request.form.get("password", "")):
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, FAILURE_WINDOW_S)
            pipe.execute()
        # Not the name typed: people type passwords into the wrong field.
        log.warning("desk sign-in refused", extra={"event": "desk_login_failed",
                                                   "client": request.client})
        return login_form(desk, request, None, "wrong user name or password", 401)
    session_cookie = desk.keys.new_session(user)
    session = desk.keys.session(session_cookie)
    if session is not None:
        Desk.acted(session, "login", user, client=request.client)
    reply = redirect(_next(request))
    reply.headers.append(_cookie(SESSION_COOKIE, session_cookie, SESSION_S, request.secure))
    reply.headers.append(_cookie(LOGIN_COOKIE, "", 0, request.secure))
    return reply


def logout(desk: Desk, request: Request, session: Session) -> Reply:
    """Forget the session in this browser."""
    Desk.acted(session, "logout", session.user)
    reply = redirect(f"{PREFIX}/login")
    reply.headers.append(_cookie(SESSION_COOKIE, "", 0, request.secure))
    return reply
