"""The composition root of worker and beat processes: the one Celery app, built from the environment.

`celery -A marketing_team worker|beat|flower` finds it through the package face; CLI commands and
tests compose their own (a run mode, a Team) from the same parts.
"""

from __future__ import annotations

import threading

from marketing_team.config.settings import load_settings
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.control import CeleryApp

_app: CeleryApp | None = None
_lock = threading.Lock()


def process_app() -> CeleryApp:
    """The process-wide app, built from the environment on first use (settings errors name the variable)."""
    global _app
    with _lock:
        if _app is None:
            _app = build_app(load_settings())
            _app.set_current()
        return _app
