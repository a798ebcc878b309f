"""Signing in and out of the desk: the login form, its check, the session cookie.

Sign-in attempts are counted per client in Redis (all web processes share the count), the client
being the address a trusted proxy names (`http.client_address`), so one abuser behind the README's
nginx throttles only themself. Each attempt is counted before its password is checked (INCR first,
atomically), so a burst gets at most MAX_FAILURES checks per FAILURE_WINDOW_S; the rest get 429 with
Retry-After (the window's remainder). A successful sign-in clears its client's count.
Signing out writes a revocation record for the session, kept as long as the cookie would be valid.
"""

from __future__ import annotations

import hashlib
import logging
import time
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
FAILURE_WINDOW_S = 300
_ATTEMPTS = "mt:desk:login_attempts:"
_REVOKED = "mt:desk:revoked:"


def _revoked(nonce: str) -> str:
    # A digest, not the nonce: Redis never holds a part of a live cookie.
    return _REVOKED + hashlib.sha256(nonce.encode()).hexdigest()


def _cookie(name: str, value: str, max_age: int, secure: bool) -> tuple[str, str]:
    # HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it.
    flags = f"; Path={PREFIX}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return "Set-Cookie", f"{name}={value}{flags}{'; Secure' if secure else ''}"


def session_of(desk: Desk, request: Request) -> Session | None:
    """The request's valid session (signed, unexpired, not signed out), or None."""
    session = desk.keys.session(request.cookies.get(SESSION_COOKIE))
    if session is None or desk.runtime.redis.exists(_revoked(session.nonce)):
        return None
    return session


def _next(request: Request) -> str:
    # Only a path inside the desk: a crafted `next` never sends a person elsewhere, and only
    # printable ASCII reaches the Location header (gunicorn refuses a header with controls or
    # characters outside Latin-1, a 500; links the desk makes are percent-encoded anyway).
    target = request.form.get("next") or request.query.get("next") or f"{PREFIX}/"
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}/") or "\\" in target
            or not (target.isascii() and target.isprintable())):
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
    key = f"{_ATTEMPTS}{request.client or 'unknown'}"
    with client.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=FAILURE_WINDOW_S, nx=True)  # the window starts at its first attempt
        pipe.incr(key)  # keeps the expiry: later attempts never extend the window
        pipe.ttl(key)
        _, attempts, ttl = pipe.execute()
    if int(attempts) > MAX_FAILURES:
        wait = max(int(ttl), 1)
        raise DeskError(429, f"too many sign-in attempts from this address; try again in "
                             f"{wait} seconds", None, (("Retry-After", str(wait)),))
    user = request.form.get("user", "")
    if not desk.keys.credentials_match(user, request.form.get("password", "")):
        # Not the name typed: people type passwords into the wrong field.
        log.warning("desk sign-in refused", extra={"event": "desk_login_failed",
                                                   "client": request.client})
        return login_form(desk, request, None, "wrong user name or password", 401)
    client.delete(key)
    session_cookie = desk.keys.new_session(user)
    session = desk.keys.session(session_cookie)
    if session is not None:
        Desk.acted(session, "login", user, client=request.client)
    reply = redirect(_next(request))
    reply.headers.append(_cookie(SESSION_COOKIE, session_cookie, SESSION_S, request.secure))
    reply.headers.append(_cookie(LOGIN_COOKIE, "", 0, request.secure))
    return reply


def logout(desk: Desk, request: Request, session: Session) -> Reply:
    """End the session: revoked on the server (a copied cookie stops working too), cleared here."""
    left = max(session.expires - int(time.time()), 1)
    desk.runtime.redis.set(_revoked(session.nonce), 1, ex=left)
    Desk.acted(session, "logout", session.user)
    reply = redirect(f"{PREFIX}/login")
    reply.headers.append(_cookie(SESSION_COOKIE, "", 0, request.secure))
    return reply
