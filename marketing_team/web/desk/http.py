"""The desk's HTTP vocabulary: a parsed request, a reply, and the error a request is refused with."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from marketing_team.web import read_deadline

Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]

MAX_FORM_BYTES = 64 * 1024
REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           409: "Conflict", 411: "Length Required", 413: "Content Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class DeskError(Exception):
    """A request the desk refuses: its status, one message for a person, the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


@dataclass
class Reply:
    """What the desk answers: a status, headers and the body's bytes."""

    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_line(self) -> str:
        """`303 See Other` and the like, for start_response."""
        return f"{self.status} {REASONS.get(self.status, '')}".strip()


def redirect(location: str) -> Reply:
    """A 303 to a path of the desk (after a POST: the browser GETs the result)."""
    return Reply(303, headers=[("Location", location)])


@dataclass(frozen=True)
class Request:
    """One request as the desk reads it (the form only for POST, read once, bounded)."""

    method: str
    path: str
    query_string: str
    query: dict[str, str]
    form: dict[str, str]
    cookies: dict[str, str]
    client: str
    secure: bool


def _first(pairs: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in pairs.items() if values}


def _cookies(header: str) -> dict[str, str]:
    # Leniently, as browsers send them: SimpleCookie drops every cookie when one (another app's,
    # on this host or a parent domain) is outside its grammar, which locked people out.
    found: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.partition("=")
        name = name.strip()
        if sep and name and name not in found:  # the first wins, as the most specific path
            found[name] = value.strip()
    return found


def _fields(text: str, limit: int, where: str) -> dict[str, str]:
    try:
        return _first(parse_qs(text, keep_blank_values=True, max_num_fields=limit))
    except ValueError:  # more fields than any desk form has: refused, not a traceback
        raise DeskError(400, f"the {where} has more than {limit} fields", where) from None


def client_address(environ: dict[str, Any], trusted: Networks) -> str:
    """Who is asking, for throttling: the direct peer, or what a trusted proxy says in
    X-Forwarded-For, as a normalised bucket name.

    Each trusted proxy appends the address it saw; the rightmost address that is not a trusted
    proxy is the client (anything left of it the client could have written itself). IPv4-mapped
    IPv6 (a dual-stack bind) counts as IPv4; an IPv6 client counts by its /64, which one host
    usually holds whole; `ip:port` and `[v6]:port` entries are read; an entry that cannot be read
    counts in a bucket of its own, never in the proxy's.
    """
    client = forwarded_client(environ, trusted)
    return client if isinstance(client, str) else _bucket(client)


def forwarded_client(environ: dict[str, Any], trusted: Networks
                     ) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    """The client's address (as `client_address` finds it, unbucketed), or "unknown" /
    "unreadable-forwarded-for" when there is none to read."""
    peer = _ip(str(environ.get("REMOTE_ADDR", "")))
    if peer is None:
        return "unknown"
    hops = [h.strip() for h in reversed(str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(","))]
    client = peer
    for hop in hops:
        if not any(client in network for network in trusted):
            break
        found = _ip(hop)
        if found is None:
            return "unreadable-forwarded-for"
        client = found
    return client


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from `a.b.c.d`, `a.b.c.d:port`, a v6 address or `[v6]:port` (None if none)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return mapped or ip


def _bucket(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _form(environ: dict[str, Any]) -> dict[str, str]:
    media = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise DeskError(415, "send the form as application/x-www-form-urlencoded", "Content-Type")
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        raise DeskError(411, "send the form with a Content-Length, not chunked", "Content-Length")
    raw_length = (environ.get("CONTENT_LENGTH") or "0").strip()
    if not raw_length.isdigit():
        raise DeskError(400, "Content-Length is not a number", "Content-Length")
    length = int(raw_length)
    if length > MAX_FORM_BYTES:
        raise DeskError(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB", "body")
    try:
        body = environ["wsgi.input"].read(length) if length else b""
    except OSError:
        raise DeskError(408, "the form did not arrive in time", "body") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DeskError(400, "the form is not UTF-8", "body") from None
    return _fields(text, 50, "form")


def parse_request(environ: dict[str, Any], trusted: Networks = ()) -> Request:
    """The request's path, query, cookies, client and (for POST) its url-encoded form."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    query_string = str(environ.get("QUERY_STRING", ""))
    query = _fields(query_string, 20, "query")
    # Behind a TLS-terminating proxy the scheme arrives in X-Forwarded-Proto.
    secure = (environ.get("wsgi.url_scheme") == "https"
              or environ.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https")
    form = _form(environ) if method == "POST" else {}
    read_deadline.request_read()  # all of it is here: what the page does next is not cut off
    return Request(method=method, path=str(environ.get("PATH_INFO") or "/"),
                   query_string=query_string, query=query, form=form,
                   cookies=_cookies(str(environ.get("HTTP_COOKIE", ""))),
                   client=client_address(environ, trusted), secure=secure)
