"""gunicorn's gthread worker with a deadline on each request: a slow client is cut off in time.

gthread reads a request's headers (and the app reads its body) in a pool thread with blocking
reads; a per-read timeout cannot stop a client that sends one byte just before each timeout, so
a few more such clients than threads stalled all intake. Here each request a thread takes on
has twice MT_WEB_READ_TIMEOUT in total (a read that times out first still gets its 408): when
it runs out, the connection is shut down, the blocked read returns, and the thread goes back
to the pool.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from marketing_team.config.settings import load_settings


def _hang_up(conn: Any) -> None:
    try:
        conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


class Worker(ThreadWorker):  # type: ignore[misc]
    """`worker_class` in `marketing_team.web.gunicorn_conf`: gthread plus a total deadline."""

    def init_process(self) -> None:
        """Read the deadline once per worker process, then run gthread's loop."""
        self.deadline_s = 2.0 * load_settings().web_read_timeout_s
        super().init_process()

    def handle(self, conn: Any) -> Any:
        """Handle one request (gthread's own code) under the deadline."""
        timer = threading.Timer(self.deadline_s, _hang_up, args=(conn,))
        timer.daemon = True
        timer.start()
        try:
            return super().handle(conn)
        finally:
            timer.cancel()
