"""The web worker's deadline on receiving a request, lifted once the application has read it.

The gthread worker arms a timer for each request it takes on (a client that trickles its headers
or body is cut off in time); the application says when it has the whole request, and from then on
its own work (a planning call behind the desk's Start can take a minute) runs without the timer.
Per thread: gthread runs a request's reading and its application in the same pool thread.
"""

from __future__ import annotations

import threading

_armed = threading.local()


def arm(timer: threading.Timer) -> None:
    """The worker: this thread's request is read under timer."""
    _armed.timer = timer


def request_read() -> None:
    """The application: the whole request has arrived (nothing more is read from the client)."""
    timer: threading.Timer | None = getattr(_armed, "timer", None)
    if timer is not None:
        timer.cancel()
        _armed.timer = None
