"""A browser-like client for the desk in-process: cookies kept, forms posted with their CSRF token."""

from __future__ import annotations

import http.client
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

PASSWORD = "desk-password-7c1e9b"
USER = "admin"


@dataclass
class DeskClient:
    """Calls the WSGI app as one browser would."""

    app: Callable[..., Any]
    cookies: dict[str, str] = field(default_factory=dict)
    cookies_set: list[str] = field(default_factory=list)  # every Set-Cookie line received
    sent: dict[str, str] = field(default_factory=dict)  # headers on every request (X-Forwarded-For)
    remote_addr: str = "127.0.0.1"  # the direct peer, as gunicorn sets REMOTE_ADDR

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {**self.sent, **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep(self, reply: Reply) -> Reply:
        for line in reply.cookies:
            self.cookies_set.append(line)
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return reply

    def get(self, path: str) -> Reply:
        """GET a path (with its query string)."""
        return self._keep(call(self.app, "GET", path, b"", self._headers(), self.remote_addr))

    def post(self, path: str, form: dict[str, str], csrf: str | None = None) -> Reply:
        """POST a url-encoded form; csrf None: the token of the page the form is on is added."""
        data = dict(form)
        if csrf is not None:
            data["csrf"] = csrf
        body = urlencode(data).encode()
        headers = self._headers({"Content-Type": "application/x-www-form-urlencoded"})
        return self._keep(call(self.app, "POST", path, body, headers, self.remote_addr))

    def token(self, path: str = "/desk/") -> str:
        """The CSRF token on a page's forms."""
        return csrf_of(self.get(path).body.decode())

    def plan(self, form: dict[str, str]) -> dict[str, str]:
        """The dry run of a start form: the hidden fields of its Start button's form."""
        page = self.post("/desk/start/plan", form, csrf=self.token("/desk/start")).text
        start = page[page.index('action="/desk/start"'):]
        return dict(re.findall(r'name="(\w+)" value="([^"]*)"', start[:start.index("</form>")]))

    def login(self, user: str = USER, password: str = PASSWORD, next_: str = "/desk/") -> Reply:
        """Sign in through the form; the session cookie is kept."""
        page = self.get("/desk/login").body.decode()
        return self.post("/desk/login", {"user": user, "password": password, "next": next_},
                         csrf=csrf_of(page))


@dataclass
class Reply:
    """What the app answered; every Set-Cookie header kept (a dict would keep only the last)."""

    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def call(app: Callable[..., Any], method: str, path: str, body: bytes,
         headers: dict[str, str], remote_addr: str = "127.0.0.1") -> Reply:
    """Call a WSGI app in-process with a hand-built environ (path may carry a query string)."""
    parts = urlsplit(path)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
        "SERVER_NAME": "127.0.0.1", "REMOTE_ADDR": remote_addr, "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)) if body else ""}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = response_headers

    data = b"".join(app(environ, start_response))
    pairs = captured["headers"]
    return Reply(captured["status"], dict(pairs), [v for k, v in pairs if k == "Set-Cookie"], data)


def csrf_of(html: str) -> str:
    """The first csrf field's value in a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def over_http(port: int, timeout_s: float = 30.0) -> Callable[..., Any]:
    """A WSGI-shaped callable that sends each request to a real server on this loopback port, so a
    DeskClient can drive gunicorn as a browser would."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        query = environ.get("QUERY_STRING")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        try:
            conn.request(environ["REQUEST_METHOD"], environ["PATH_INFO"] + (f"?{query}" if query else ""),
                         body=body or None, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            start_response(f"{reply.status} {reply.reason}", reply.getheaders())
            return [data]
        finally:
            conn.close()

    return app
