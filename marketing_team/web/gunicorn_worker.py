"""gunicorn's gthread worker with a deadline on each request: a slow client is cut off in time.

gthread reads a request's headers (and the app reads its body) in a pool thread with blocking
reads; a per-read timeout cannot stop a client that sends one byte just before each timeout, so
a few more such clients than threads stalled all intake. Here each request a thread takes on
has twice MT_WEB_READ_TIMEOUT in total to arrive (a read that times out first still gets its
408): when it runs out, the connection is shut down, the blocked read returns, and the thread
goes back to the pool. Once the application has read the request it lifts the deadline
(`read_deadline`), so a long answer (the desk's Start plans with a model) is not cut off.

A connection that ends (`Connection: close`, an error) is also closed in its thread: gthread's
own close lingers up to 2 s for the client's FIN (gunicorn >= 23, `util.close_graceful`, no setting
bounds it) on the worker's main loop, so a few clients that never close stalled every accept.
Here such a client holds one pool thread for those 2 s, never the loop.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from marketing_team.config.settings import load_settings
from marketing_team.web import read_deadline


def _hang_up(conn: Any, deadline_s: float) -> None:
    read_deadline.sent_away(f"the request did not arrive within {deadline_s:g} s (twice "
                            "MT_WEB_READ_TIMEOUT)", read_deadline.peer_of(conn.client))
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


def _close(conn: Any) -> None:
    # gunicorn < 23 has no lingering close (pyproject allows 22): a plain close there.
    linger = getattr(util, "close_graceful", None)
    if linger is None:
        util.close(conn.sock)
        return
    conn.sock.setblocking(True)
    linger(conn.sock)


class Worker(ThreadWorker):  # type: ignore[misc]
    """`worker_class` in `marketing_team.web.gunicorn_conf`: gthread plus a total deadline."""

    def init_process(self) -> None:
        """Read the deadline once per worker process, then run gthread's loop."""
        self.deadline_s = 2.0 * load_settings().web_read_timeout_s
        super().init_process()

    def handle(self, conn: Any) -> Any:
        """Handle one request (gthread's own code) under the deadline; close an ended one here."""
        timer = threading.Timer(self.deadline_s, _hang_up, args=(conn, self.deadline_s))
        timer.daemon = True
        timer.start()
        # the application lifts it once it has read the request
        read_deadline.arm(timer, read_deadline.peer_of(conn.client))
        try:
            result = super().handle(conn)
        finally:
            # Before the lingering close (bounded by gunicorn): a client that was just sent away
            # is not cut off, and logged, a second time while it lingers.
            timer.cancel()
            read_deadline.disarm()
        if not result:  # not kept alive nor deferred to the poller: the connection is over
            _close(conn)
            conn.closed_in_thread = True
        return result

    def finish_request(self, conn: Any, fs: Any) -> None:
        """On the main loop: skip the lingering close when the thread has closed it already."""
        if getattr(conn, "closed_in_thread", False):
            self.nr_conns -= 1
            return
        super().finish_request(conn, fs)
