"""Asking running workers: who answers a ping (health), and whether we are inside a task."""

from __future__ import annotations

import time
from typing import Any

import redis
from celery import Celery
from celery._state import get_current_task
from kombu.exceptions import OperationalError

from marketing_team.orchestration.transport import broker_unavailable

# The app type for layers above orchestration, which never import Celery themselves.
CeleryApp = Celery
# What kombu's Redis transport lets through when a connection drops under a command.
_DROPPED = (redis.ConnectionError, redis.TimeoutError, OSError)
# kombu's connection retry policy, as transport options: one attempt, no back-off.
_ONE_TRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0}


def inside_task() -> bool:
    """True when this thread runs a Celery task (a worker is alive by definition)."""
    return get_current_task() is not None


def ping_workers(app: Celery, timeout_s: float, first_only: bool = True) -> list[str]:
    """Names of the workers that answered a ping within timeout_s.

    first_only: return at the first pong (is anyone there?) instead of waiting out the timeout
    for every worker's answer.
    """
    replies = _ask(app, timeout_s, limit=1 if first_only else None)
    return sorted(name for reply in replies for name in reply)


def node_answers(app: Celery, node: str, timeout_s: float) -> bool:
    """True when a worker with exactly this node name answers a ping within timeout_s."""
    return any(node in reply for reply in _ask(app, timeout_s, destination=[node], limit=1))


def _ask(app: Celery, timeout_s: float, **options: Any) -> list[dict[str, Any]]:
    """The workers' answers to one ping, asked again once if a connection drops under it.

    kombu retries a connection it cannot make (OperationalError once spent), but a connection that
    drops while the answers are read (a server restart, a network blip) surfaces as redis-py's
    error: the ping is asked again with the time left (at least a quarter of timeout_s, so a drop
    at the end is no verdict of "nobody there"). It broadcasts afresh and reads the answers from
    a reply queue of its own. Its connection gets one quick try: kombu's reconnect loop would
    add seconds (its connect timeout and back-off) to a health check whose server just went away.
    A broker that stays away is BrokerUnavailableError naming it.
    """
    deadline = time.monotonic() + timeout_s
    try:
        try:
            replies = app.control.ping(timeout=timeout_s, **options)
        except _DROPPED:
            left = max(deadline - time.monotonic(), timeout_s / 4)
            with app.connection_for_write(connect_timeout=left, transport_options=_ONE_TRY) as conn:
                replies = app.control.ping(timeout=left, connection=conn, **options)
    except (OperationalError, *_DROPPED) as exc:
        raise broker_unavailable(str(app.conf.broker_url), "ask the workers", exc) from exc
    return list(replies or [])
