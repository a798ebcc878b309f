"""Gunicorn logger class that sends gunicorn's own lines through logs.configure (`--logger-class`)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.observability import logs
from marketing_team.web import read_deadline


class Logger(_GunicornLogger):  # type: ignore[misc]
    """`gunicorn … --logger-class marketing_team.web.gunicorn_logging.Logger`: JSON lines, secrets masked."""

    def setup(self, cfg: Any) -> None:
        """Install our root handler and let gunicorn's loggers propagate to it (no handlers of theirs)."""
        self.cfg = cfg
        self._access_log_enabled = self._compute_access_log_enabled()
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        try:
            settings = load_settings()
        except MarketingTeamError as exc:  # gunicorn's own edge: one line, its boot-error status
            sys.stderr.write(f"error: {exc}\n")
            raise SystemExit(3) from None
        logs.configure(settings, "web")
        for log, level in ((self.error_log, self.loglevel), (self.access_log, logging.INFO)):
            log.handlers.clear()
            log.setLevel(level)
            log.propagate = True

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        """A read that timed out is a slow client sent away: one warning, not a traceback."""
        if isinstance(sys.exc_info()[1], BlockingIOError | TimeoutError):
            read_deadline.sent_away("no bytes within the read timeout (MT_WEB_READ_TIMEOUT)")
            return
        super().exception(msg, *args, **kwargs)


__all__ = ["Logger"]
