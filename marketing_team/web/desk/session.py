"""Who may use the desk: the password check, the signed session cookie and the CSRF tokens.

A session is a cookie signed with a key derived from MT_CONSOLE_PASSWORD (PBKDF2, so a captured
cookie does not make the password cheap to guess), valid for SESSION_S and only for the configured
MT_CONSOLE_USER: changing the password or renaming the user ends every session. Signing out ends
one on the server too (a revocation record in Redis, `login.py`). Every form carries a token bound to the session
(or, for the login form, to a short-lived cookie of its own), so another site cannot post one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "mt_desk"
LOGIN_COOKIE = "mt_desk_login"
SESSION_S = 12 * 3600
LOGIN_FORM_S = 3600
_SALT = b"marketing-team review desk session v1"
_ROUNDS = 100_000  # ~50 ms once per process


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A signed-in person: their name and the nonce their CSRF token is bound to."""

    user: str
    nonce: str
    expires: int  # Unix seconds: how long a revocation of it must be kept


class Keys:
    """The credentials check and every signature the desk makes, from the configured password."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode("utf-8")
        self._password = password.encode("utf-8")
        self._key = hashlib.pbkdf2_hmac("sha256", self._password, _SALT, _ROUNDS)

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._key, "|".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()

    def credentials_match(self, user: str, password: str) -> bool:
        """Constant-time comparison of both, so neither leaks through timing."""
        user_ok = hmac.compare_digest(user.encode("utf-8", "replace"), self._user)
        password_ok = hmac.compare_digest(password.encode("utf-8", "replace"), self._password)
        return user_ok and password_ok

    def new_session(self, user: str, now: float | None = None) -> str:
        """A cookie value: user, expiry and nonce, signed."""
        expires = str(int((now or time.time()) + SESSION_S))
        nonce = secrets.token_urlsafe(16)
        name = _b64(user.encode("utf-8"))
        return ".".join((name, expires, nonce, self._sign("session", name, expires, nonce)))

    def session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged or expired."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        name, expires, nonce, signature = parts
        if not hmac.compare_digest(signature.encode(), self._sign("session", name, expires, nonce).encode()):
            return None
        if not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        try:
            user = _unb64(name)
        except ValueError:
            return None
        if not hmac.compare_digest(user, self._user):  # minted for a user since renamed
            return None
        return Session(self._user.decode("utf-8"), nonce, int(expires))

    def csrf_token(self, nonce: str) -> str:
        """The token a session's forms carry."""
        return self._sign("csrf", nonce)

    def csrf_ok(self, nonce: str, given: str) -> bool:
        """True when given is the token for this nonce."""
        return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                   self.csrf_token(nonce).encode())

    @staticmethod
    def login_nonce() -> str:
        """A fresh nonce for the login form's own cookie."""
        return secrets.token_urlsafe(16)
