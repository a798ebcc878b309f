"""marketing-team: an autonomous AI marketing team on Celery + Redis."""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["app", "celery"]


def __getattr__(name: str) -> Any:
    # `celery -A marketing_team` looks `app` up with getattr. Built on first lookup, not at import,
    # so `import marketing_team` (every `mtctl` command) stays cheap and works before settings are
    # valid; imported by name because the composition root sits above every layer of the package.
    if name in ("app", "celery"):
        bootstrap = importlib.import_module("marketing_team.bootstrap")
        errors = importlib.import_module("marketing_team.domain.errors")
        text = importlib.import_module("marketing_team.domain.text")
        try:
            return bootstrap.process_app()
        except errors.MarketingTeamError as exc:
            # The edge of worker, beat and flower: one line naming the setting, like `mtctl`
            # (without control sequences: it can quote a path from a catalog override).
            sys.stderr.write(f"error: {text.terminal_safe(str(exc))}\n")
            raise SystemExit(exc.exit_code) from None
    raise AttributeError(f"module 'marketing_team' has no attribute {name!r}")
