"""Gunicorn logger class that sends gunicorn's own lines through logs.configure (`--logger-class`)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

from marketing_team.config.settings import load_settings
from marketing_team.observability import logs


class Logger(_GunicornLogger):  # type: ignore[misc]
    """`gunicorn … --logger-class marketing_team.web.gunicorn_logging.Logger`: JSON lines, secrets masked."""

    def setup(self, cfg: Any) -> None:
        """Install our root handler and let gunicorn's loggers propagate to it (no handlers of theirs)."""
        self.cfg = cfg
        self._access_log_enabled = self._compute_access_log_enabled()
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        settings = load_settings()
        logs.configure(settings, "web")
        for log, level in ((self.error_log, self.loglevel), (self.access_log, logging.INFO)):
            log.handlers.clear()
            log.setLevel(level)
            log.propagate = True


__all__ = ["Logger"]
