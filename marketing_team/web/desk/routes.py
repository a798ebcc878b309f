"""Which handler answers which desk path: one table, read by the app."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from marketing_team.web.desk import login, views_budget, views_goals, views_reviews, views_start
from marketing_team.web.desk.core import Desk
from marketing_team.web.desk.http import Reply, Request
from marketing_team.web.desk.session import Session

Handler = Callable[..., Reply]  # (desk, request, session, *path parts) -> Reply
_ID = r"([A-Za-z0-9][A-Za-z0-9_-]{0,80})"


@dataclass(frozen=True)
class Route:
    """A method and a path pattern (under /desk) and what answers them."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _route(method: str, pattern: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), handler)


ROUTES: tuple[Route, ...] = (
    _route("GET", r"/", views_goals.goals_list),
    _route("GET", rf"/goals/{_ID}", views_goals.goal_page),
    _route("GET", rf"/goals/{_ID}/live\.json", views_goals.goal_live),
    _route("POST", rf"/goals/{_ID}/cancel", views_goals.goal_cancel),
    _route("POST", rf"/goals/{_ID}/resume", views_goals.goal_resume),
    _route("GET", r"/reviews", views_reviews.review_queue),
    _route("POST", rf"/reviews/{_ID}/decide", views_reviews.review_decide),
    _route("GET", r"/start", views_start.start_form),
    _route("POST", r"/start/plan", views_start.start_plan),
    _route("POST", r"/start", views_start.start_goal),
    _route("GET", r"/budget", views_budget.budget_page),
    _route("POST", rf"/schedules/{_ID}/(enable|disable)", views_budget.schedule_switch),
    _route("POST", r"/logout", login.logout),
)


def match(method: str, path: str) -> tuple[Handler, tuple[str, ...]] | list[str]:
    """The handler and path parts for this request, else the methods the path allows ([] = none)."""
    allowed = []
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found is None:
            continue
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return route.handler, found.groups()
        allowed.append(route.method)
    return allowed


def call(handler: Handler, desk: Desk, request: Request, session: Session,
         parts: tuple[str, ...]) -> Reply:
    """Run a handler with its path parts."""
    return handler(desk, request, session, *parts)
