"""The review queue: open items first, each with its deliverable and why it needs a person, and the
three decisions, which do exactly what `mtctl reviews approve|revise|reject` does."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from marketing_team.domain.review_item import ItemStatus, ReviewItem
from marketing_team.domain.values import check_id
from marketing_team.orchestration.decisions import decide_review
from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.markdown import render, split_document
from marketing_team.web.desk.session import Session

MAX_NOTES = 4000
DECIDED_SHOWN = 50
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
    open_items = [_view(desk, i) for i in rt.reviews.list(ItemStatus.OPEN)]
    decided = [i for i in rt.reviews.list(None) if i.status is not ItemStatus.OPEN][:DECIDED_SHOWN]
    return desk.page("reviews.html", request, session, open_items=open_items, decided=decided)


def review_decide(desk: Desk, request: Request, session: Session, item_id: str) -> Reply:
    """Approve, revise (notes required) or reject one item, then show its goal going on."""
    check_id(item_id, "review id")
    choice = request.form.get("decision", "")
    status = _DECISIONS.get(choice)
    if status is None:
        raise DeskError(400, "decision must be approve, revise or reject", "decision")
    notes = request.form.get("notes", "").strip()
    if len(notes) > MAX_NOTES:
        raise DeskError(400, f"notes are longer than {MAX_NOTES} characters", "notes")
    if status is ItemStatus.REVISED and not notes:
        raise DeskError(400, "notes are required to ask for a revision: say what to change",
                        "notes")
    decision = decide_review(desk.celery, desk.runtime, item_id, status, notes)
    desk.acted(session, choice, item_id, goal_id=decision.goal.id,
               continuation=decision.continuation.value)
    return redirect(f"{PREFIX}/goals/{decision.goal.id}?done={status.value}")
