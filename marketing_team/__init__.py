"""marketing-team: an autonomous AI marketing team on Celery + Redis."""

from __future__ import annotations

from typing import Any

__all__ = ["app", "celery"]


def __getattr__(name: str) -> Any:
    # Lazy so `mtctl --help` and imports work even before settings are valid; Celery's
    # `-A marketing_team` looks these names up with getattr.
    if name in ("app", "celery"):
        from marketing_team.celery_app import get_app

        return get_app()
    raise AttributeError(f"module 'marketing_team' has no attribute {name!r}")
