"""Asking running workers: who answers a ping (health), and whether we are inside a task."""

from __future__ import annotations

from celery import Celery
from celery._state import get_current_task

# The app type for layers above orchestration, which never import Celery themselves.
CeleryApp = Celery


def inside_task() -> bool:
    """True when this thread runs a Celery task (a worker is alive by definition)."""
    return get_current_task() is not None


def ping_workers(app: Celery, timeout_s: float) -> list[str]:
    """Names of the workers that answered a ping within timeout_s (at the first pong)."""
    # limit=1: return at the first pong instead of waiting out the timeout.
    replies = app.control.ping(timeout=timeout_s, limit=1)
    return sorted(name for reply in replies or [] for name in reply)
