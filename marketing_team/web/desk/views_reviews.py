"""The review queue: open items first, each with its deliverable and why it needs a person, and the
three decisions, which do exactly what `mtctl reviews approve|revise|reject` does."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from markupsafe import Markup

from marketing_team.domain.errors import InputError
from marketing_team.domain.review_item import ItemStatus, ReviewItem
from marketing_team.domain.values import check_id
from marketing_team.orchestration.decisions import Continuation, decide_review
from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.markdown import render, split_document
from marketing_team.web.desk.paging import page_of
from marketing_team.web.desk.session import Session

log = logging.getLogger("marketing_team.web.desk")
MAX_NOTES = 4000
DECIDED_SHOWN = 50
QUEUE_PAGE = 50  # open items to a page: each shows its whole deliverable
_DECISIONS = {"approve": ItemStatus.APPROVED, "revise": ItemStatus.REVISED,
              "reject": ItemStatus.REJECTED}


@dataclass(frozen=True)
class ItemView:
    """An item with its deliverable rendered (None when it has none, or it expired)."""

    item: ReviewItem
    deliverable: Markup | None


def _view(desk: Desk, item: ReviewItem) -> ItemView:
    text = (desk.runtime.documents.get(item.goal_id, item.deliverable)
            if item.deliverable and item.status is ItemStatus.OPEN else None)
    return ItemView(item, None if text is None else render(split_document(text)[1]))


def review_queue(desk: Desk, request: Request, session: Session) -> Reply:
    """Open items (newest first) with their deliverables, then recently decided ones."""
    rt = desk.runtime
    page = page_of(request, QUEUE_PAGE, rt.reviews.count(ItemStatus.OPEN))
    open_items = [_view(desk, i) for i in rt.reviews.list(ItemStatus.OPEN, QUEUE_PAGE, page.offset)]
    decided = [i for i in rt.reviews.list(None) if i.status is not ItemStatus.OPEN][:DECIDED_SHOWN]
    return desk.page("reviews.html", request, session, open_items=open_items, decided=decided,
                     page=page, shown=page.shown(len(open_items)))


def review_decide(desk: Desk, request: Request, session: Session, item_id: str) -> Reply:
    """Approve, revise (notes required) or reject one item, then show its goal going on."""
    check_id(item_id, "review id")
    choice = request.form.get("decision", "")
    status = _DECISIONS.get(choice)
    if status is None:
        raise DeskError(400, "decision must be approve, revise or reject", "decision")
    # Browsers send a textarea's newlines as CRLF: counted as one, as its maxlength counts them.
    notes = request.form.get("notes", "").replace("\r\n", "\n").strip()
    if len(notes) > MAX_NOTES:
        raise DeskError(400, f"notes are longer than {MAX_NOTES} characters", "notes")
    if status is ItemStatus.REVISED and not notes:
        raise DeskError(400, "notes are required to ask for a revision: say what to change",
                        "notes")
    try:
        decision = decide_review(desk.celery, desk.runtime, item_id, status, notes)
    except InputError:
        raise  # refused before anything was recorded (decided already, unknown item)
    except Exception:
        _log_if_recorded(desk, session, choice, item_id, status)
        raise
    desk.acted(session, choice, item_id, goal_id=decision.goal.id,
               continuation=decision.continuation.value)
    ended = decision.goal.status.is_final and decision.continuation is Continuation.STAYS
    done = "ended" if ended else status.value
    return redirect(f"{PREFIX}/goals/{decision.goal.id}?done={done}")


def _log_if_recorded(desk: Desk, session: Session, choice: str, item_id: str,
                     status: ItemStatus) -> None:
    # The decision may be stored while what it sets going failed (Redis or the broker went
    # away): every recorded decision still gets its action line.
    try:
        item = desk.runtime.reviews.load(item_id)
    except Exception:  # noqa: BLE001 - the store is down too: the failure itself is reported
        log.warning("desk decision outcome unknown", extra={
            "event": "desk_action_unknown", "user": session.user, "action": choice,
            "item": item_id})
        return
    if item.status is status:
        desk.acted(session, choice, item_id, goal_id=item.goal_id, continuation="failed")
