"""Asking running workers: who answers a ping (health), and whether we are inside a task."""

from __future__ import annotations

from celery import Celery
from celery._state import get_current_task
from kombu.exceptions import OperationalError

from marketing_team.orchestration.transport import broker_unavailable

# The app type for layers above orchestration, which never import Celery themselves.
CeleryApp = Celery


def inside_task() -> bool:
    """True when this thread runs a Celery task (a worker is alive by definition)."""
    return get_current_task() is not None


def ping_workers(app: Celery, timeout_s: float, first_only: bool = True) -> list[str]:
    """Names of the workers that answered a ping within timeout_s.

    first_only: return at the first pong (is anyone there?) instead of waiting out the timeout
    for every worker's answer.
    """
    try:
        replies = app.control.ping(timeout=timeout_s, limit=1 if first_only else None)
    except OperationalError as exc:  # kombu's, once its connection retries are spent
        raise broker_unavailable(str(app.conf.broker_url), "ask the workers", exc) from exc
    return sorted(name for reply in replies or [] for name in reply)


def node_answers(app: Celery, node: str, timeout_s: float) -> bool:
    """True when a worker with exactly this node name answers a ping within timeout_s."""
    try:
        replies = app.control.ping(destination=[node], timeout=timeout_s, limit=1)
    except OperationalError as exc:
        raise broker_unavailable(str(app.conf.broker_url), "ask the workers", exc) from exc
    return any(node in reply for reply in replies or [])
