"""The goals pages: the list (newest first, by status), one goal, its live state, cancel and resume."""

from __future__ import annotations

from marketing_team.director import flow
from marketing_team.director.pages import summary_markdown
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.domain.review_item import ItemStatus, ReviewItem
from marketing_team.domain.values import OFFLINE_PROVIDER, check_id
from marketing_team.orchestration.decisions import resume_goal
from marketing_team.store.goals import Unreadable
from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.goal_view import cost_by_skill, live_state, task_views
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.markdown import render
from marketing_team.web.desk.paging import page_of
from marketing_team.web.desk.session import Session

LIST_LIMIT = 100
NOTICES = {"cancelled": "Goal cancelled: running tasks finish, nothing new starts.",
           "resumed": "Goal resumed from its first unfinished task.",
           "started": "Goal started.",
           "approved": "Approved; the goal goes on.",
           "revised": "Sent back for a revision with your notes; the goal goes on.",
           "rejected": "Rejected; the goal moves on without it or fails by policy.",
           "ended": "Your decision is recorded; the goal ended meanwhile (cancelled), so nothing "
                    "resumes."}


def _status_filter(request: Request) -> GoalStatus | None:
    raw = request.query.get("status", "")
    if not raw:
        return None
    try:
        return GoalStatus(raw)
    except ValueError:
        known = ", ".join(s.value for s in GoalStatus)
        raise DeskError(400, f"status must be one of {known}", "status") from None


def goals_list(desk: Desk, request: Request, session: Session) -> Reply:
    """Newest first: status, phase k of n, cost, started; filtered by ?status=."""
    status = _status_filter(request)
    store = desk.runtime.goals
    total = store.total() if status is None else store.counts()[status]
    page = page_of(request, LIST_LIMIT, total)
    rows = store.load_many(store.ids(LIST_LIMIT, status, page.offset))
    goals = [g for g in rows if isinstance(g, Goal)]
    unreadable = [g for g in rows if isinstance(g, Unreadable)]
    return desk.page("goals.html", request, session, goals=goals, unreadable=unreadable,
                     statuses=[s.value for s in GoalStatus], chosen=status.value if status else "",
                     open_items=desk.runtime.reviews.count(ItemStatus.OPEN), page=page,
                     shown=page.shown(len(rows)))


def open_items_of(desk: Desk, goal_id: str) -> list[ReviewItem]:
    """Every open item of one goal, however many other goals' items wait (no per-goal index)."""
    reviews = desk.runtime.reviews
    everything = reviews.list(ItemStatus.OPEN, limit=max(reviews.count(ItemStatus.OPEN), 1))
    return [i for i in everything if i.goal_id == goal_id]


def _goal(desk: Desk, goal_id: str) -> Goal:
    return desk.runtime.goals.load(check_id(goal_id, "goal id"))


def goal_page(desk: Desk, request: Request, session: Session, goal_id: str) -> Reply:
    """The plan, each deliverable by revision beside its review, the summary, cost by skill."""
    goal = _goal(desk, goal_id)
    summary = (render(summary_markdown(goal, goal.provider == OFFLINE_PROVIDER))
               if goal.status.is_settled else None)
    items = open_items_of(desk, goal.id)
    notice = NOTICES.get(request.query.get("done", ""))
    return desk.page("goal.html", request, session, goal=goal, tasks=task_views(desk.runtime, goal),
                     costs=cost_by_skill(goal), summary=summary, open_items=items, notice=notice,
                     live=live_state(desk.runtime, goal),
                     can_cancel=not goal.status.is_final,
                     can_resume=goal.status.is_settled and not goal.status.is_final)


def goal_live(desk: Desk, request: Request, session: Session, goal_id: str) -> Reply:
    """The goal's live state as JSON, polled by the goal page while it runs."""
    return desk.json(live_state(desk.runtime, _goal(desk, goal_id)))


def goal_cancel(desk: Desk, request: Request, session: Session, goal_id: str) -> Reply:
    """`mtctl goals cancel`: running tasks finish, nothing new starts, open items close."""
    goal = flow.cancel(desk.runtime, check_id(goal_id, "goal id"))
    desk.acted(session, "cancel", goal.id, goal_id=goal.id)
    return redirect(f"{PREFIX}/goals/{goal.id}?done=cancelled")


def goal_resume(desk: Desk, request: Request, session: Session, goal_id: str) -> Reply:
    """`mtctl goals resume --detach`: continue from the first unfinished task."""
    goal = _goal(desk, goal_id)
    if not goal.status.is_settled:
        raise InputError(f"goal {goal.id} is {goal.status.value}: it is under way already")
    resume_goal(desk.celery, desk.runtime, goal.id)
    desk.acted(session, "resume", goal.id, goal_id=goal.id)
    return redirect(f"{PREFIX}/goals/{goal.id}?done=resumed")
