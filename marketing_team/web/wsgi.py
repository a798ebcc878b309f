"""The WSGI entry point: `gunicorn marketing_team.web.wsgi:app` builds the app from the environment."""

from __future__ import annotations

import sys
import threading
from typing import Any

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.text import terminal_safe
from marketing_team.web.webhook import WebhookApp, create_webhook_app

GUNICORN_BOOT_ERROR = 3
_app: WebhookApp | None = None
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # gunicorn looks `app` up at start: build it then, from the environment, so a missing token
    # stops gunicorn instead of failing the first request.
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if _app is None:
            try:
                _app = create_webhook_app(load_settings())
            except MarketingTeamError as exc:
                # The web's edge: one line naming the setting, not a traceback; exit status 3 is
                # gunicorn's "worker failed to boot", which stops the arbiter instead of looping.
                sys.stderr.write(f"error: {terminal_safe(str(exc))}\n")
                raise SystemExit(GUNICORN_BOOT_ERROR) from None
        return _app
