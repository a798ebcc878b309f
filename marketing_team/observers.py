"""Celery signal receivers that only record, log and meter (stub until the operations issue lands)."""

from __future__ import annotations

from celery import Celery


def connect(app: Celery) -> None:
    """Attach the observers to app's signals."""
