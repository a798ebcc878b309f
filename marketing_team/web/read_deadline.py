"""The web worker's deadline on receiving a request, lifted once the application has read it.

The gthread worker arms a timer for each request it takes on (a client that trickles its headers
or body is cut off in time); the application says when it has the whole request, and from then on
its own work (a planning call behind the desk's Start can take a minute) runs without the timer.
Per thread: gthread runs a request's reading and its application in the same pool thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)
_armed = threading.local()


def arm(timer: threading.Timer, client: str = "") -> None:
    """The worker: this thread's request, from client, is read under timer."""
    _armed.timer = timer
    _armed.client = client


def disarm() -> None:
    """The worker: this thread is done with its request."""
    request_read()
    _armed.client = ""


def peer_of(address: Any) -> str:
    """A socket's peer address as text (the host of an (host, port) pair)."""
    if isinstance(address, tuple | list) and address:
        return str(address[0])
    return str(address or "")


def sent_away(reason: str, client: str | None = None) -> None:
    """One line for a client the worker hung up on before its request arrived (a 408 it never
    got to read), as the application logs every request it refuses."""
    log.warning("request rejected", extra={
        "event": "request_rejected", "status": 408, "reason": reason,
        "client": getattr(_armed, "client", "") if client is None else client})


def request_read() -> None:
    """The application: the whole request has arrived (nothing more is read from the client)."""
    timer: threading.Timer | None = getattr(_armed, "timer", None)
    if timer is not None:
        timer.cancel()
        _armed.timer = None
