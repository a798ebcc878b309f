"""gunicorn settings for the webhook (`gunicorn … --config python:marketing_team.web.gunicorn_conf`).

The gthread worker hands each connection to a thread of a pool: a client trickling its headers or
announcing a body it never sends holds one thread, not the whole worker (gunicorn's default sync
worker served nobody else for 30 s, then was killed). Put a buffering proxy in front (README) so
no slow client reaches gunicorn at all.
"""

from __future__ import annotations

import os

worker_class = "gthread"
# Threads per worker: how many slow clients a worker absorbs before a valid request waits.
threads = int(os.environ.get("MT_WEB_THREADS", "32"))
timeout = 30
keepalive = 5
logger_class = "marketing_team.web.gunicorn_logging.Logger"
