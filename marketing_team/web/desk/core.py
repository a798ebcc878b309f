"""What every desk page needs: the runtime, the Celery app, the keys, the templates, the action log."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from marketing_team.config.settings import Settings
from marketing_team.director.runtime import Runtime
from marketing_team.domain.text import terminal_safe, without_controls
from marketing_team.orchestration.control import CeleryApp
from marketing_team.web.desk.http import Reply, Request
from marketing_team.web.desk.session import Keys, Session

log = logging.getLogger("marketing_team.web.desk")
PREFIX = "/desk"


def _shown(value: Any) -> Any:
    # Everything a page shows loses control characters and bidi overrides, as the CLI's output
    # does: a model's U+202E must not reorder what a reviewer reads. Text loses whole escape
    # sequences; rendered markup (whose source lost them before rendering) loses single
    # characters only, since a sequence removed from markup could take a tag's quote with it.
    if isinstance(value, Markup):
        return Markup(without_controls(str(value)))  # noqa: S704 - single characters removed
    if isinstance(value, str):
        return terminal_safe(value)
    return value


def templates() -> Environment:
    """Jinja2 with autoescaping on for every template: nothing a model or person wrote is markup."""
    env = Environment(loader=PackageLoader("marketing_team.web.desk", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=_shown)
    env.globals["prefix"] = PREFIX
    env.filters["usd"] = lambda value, places=4: f"${float(value):,.{places}f}"
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"
    return env


@dataclass
class Desk:
    """One per web process: shared by every request thread (each holds only immutable state)."""

    settings: Settings
    runtime: Runtime
    celery: CeleryApp
    keys: Keys
    env: Environment

    def page(self, template: str, request: Request, session: Session | None, status: int = 200,
             **context: Any) -> Reply:
        """A rendered page; the session's CSRF token goes to every form on it."""
        html = self.env.get_template(template).render(
            user=session.user if session else None, path=request.path,
            csrf=self.keys.csrf_token(session.nonce) if session else "", **context)
        return Reply(status, html.encode("utf-8"))

    @staticmethod
    def json(data: dict[str, Any]) -> Reply:
        """A JSON reply (the live endpoint)."""
        return Reply(200, json.dumps(data).encode(), "application/json")

    @staticmethod
    def acted(session: Session, action: str, item: str, **details: Any) -> None:
        """One JSON log line per action a person takes: who, what, on which item."""
        log.info(f"desk {action} {item} by {session.user}",
                 extra={"event": "desk_action", "user": session.user, "action": action,
                        "item": item, **details})
