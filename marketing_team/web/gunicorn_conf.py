"""gunicorn settings for the webhook (`gunicorn … --config python:marketing_team.web.gunicorn_conf`).

The gthread worker hands each connection to a thread of a pool: a client trickling its headers or
announcing a body it never sends holds one thread, not the whole worker (gunicorn's default sync
worker served nobody else for 30 s, then was killed). Every read of a request waits at most
MT_WEB_READ_TIMEOUT (10 s) for its next bytes (SO_RCVTIMEO on the listening sockets, which
accepted connections inherit), and a whole request at most twice that (the worker's deadline,
`gunicorn_worker.py`): a client that stops sending, or sends one byte at a time, is dropped, and
a connection that ends is closed in its thread (a client that never closes holds a thread for
gunicorn's 2 s linger, not the worker's main loop). Put a buffering proxy in
front (README) so no slow client reaches gunicorn at all.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import MarketingTeamError

try:
    _settings = load_settings()
except MarketingTeamError as exc:  # this edge too: one line naming the setting, no traceback
    sys.stderr.write(f"error: {exc}\n")
    raise SystemExit(3) from None

worker_class = "marketing_team.web.gunicorn_worker.Worker"  # gthread + a deadline per request
# Threads per worker: how many slow clients a worker absorbs before a valid request waits.
threads = _settings.web_threads
timeout = 30
keepalive = 5
logger_class = "marketing_team.web.gunicorn_logging.Logger"
READ_TIMEOUT_S = _settings.web_read_timeout_s


def when_ready(server: Any) -> None:
    """Before the workers fork: a receive timeout on every listening socket (inherited by accept)."""
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                                 struct.pack("ll", READ_TIMEOUT_S, 0))
