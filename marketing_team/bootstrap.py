"""The composition root of worker and beat processes: the one Celery app, built from the environment.

`celery -A marketing_team worker|beat|flower` finds it through the package face; CLI commands and
tests compose their own (a run mode, a Team) from the same parts.
"""

from __future__ import annotations

import os
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
            settings = load_settings()
            if settings.flower_password is not None:
                # Flower reads FLOWER_BASIC_AUTH from its environment after loading the app:
                # its credentials never need to be on a command line, where `ps` shows them.
                os.environ.setdefault("FLOWER_BASIC_AUTH", f"{settings.flower_user}:"
                                      f"{settings.flower_password.get_secret_value()}")
            _app = build_app(settings)
            _app.set_current()
        return _app
