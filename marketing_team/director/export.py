"""The markdown folder people read: written from what Redis holds, never read back.

`mtctl goal` writes its goal's folder as events arrive and in full at the end; `mtctl goals
export` rebuilds any goal's folder at any time, into the workspace or another directory.
"""

from __future__ import annotations

from pathlib import Path

from marketing_team.budget.report import cost_report_path, write_cost_report
from marketing_team.director.pages import (
    goal_page,
    learnings_page,
    plan_markdown,
    review_item_page,
    summary_markdown,
)
from marketing_team.director.runtime import Runtime
from marketing_team.domain.review_item import ItemStatus
from marketing_team.domain.values import check_id
from marketing_team.store.documents import check_name
from marketing_team.store.workspace import Workspace, atomic_write

LEARNINGS_EXPORTED = 200


def _root(rt: Runtime, to: Path | None) -> Workspace:
    return Workspace(to.expanduser().resolve()) if to is not None else rt.workspace


def goal_folder(rt: Runtime, goal_id: str, to: Path | None = None) -> Path:
    """Where a goal's folder is (or will be) exported."""
    return _root(rt, to).goal_dir(goal_id)


def export_status(rt: Runtime, goal_id: str, to: Path | None = None) -> Path:
    """goal.md and plan.md as the goal stands now, plus summary.md once it settled."""
    folder = goal_folder(rt, goal_id, to)
    goal = rt.goals.load(goal_id)
    atomic_write(folder / "goal.md", goal_page(goal), durable=False)
    atomic_write(folder / "plan.md", plan_markdown(goal), durable=False)
    if goal.status.is_settled:
        atomic_write(folder / "summary.md", summary_markdown(goal, goal.provider == "offline"),
                     durable=False)
    return folder


def export_document(rt: Runtime, goal_id: str, name: str, to: Path | None = None) -> Path | None:
    """One document (a deliverable or a review) of the goal, when it is stored."""
    text = rt.documents.get(goal_id, name)
    if text is None:
        return None
    path = goal_folder(rt, goal_id, to) / check_name(name)
    atomic_write(path, text, durable=False)
    return path


def export_goal(rt: Runtime, goal_id: str, to: Path | None = None) -> Path:
    """The whole folder of a goal: every document, goal.md, plan.md and (once settled) summary.md."""
    check_id(goal_id, "goal id")
    folder = export_status(rt, goal_id, to)
    for name, text in rt.documents.all(goal_id).items():
        atomic_write(folder / check_name(name), text, durable=False)
    return folder


def export_reviews(rt: Runtime, to: Path | None = None) -> int:
    """reviews/<id>.md for every kept review item (open ones first in the index); returns how many."""
    root = _root(rt, to)
    items = rt.reviews.list(ItemStatus.OPEN) + [
        i for i in rt.reviews.list() if i.status is not ItemStatus.OPEN]
    for item in items:
        atomic_write(root.reviews_dir / f"{item.id}.md", review_item_page(item), durable=False)
    return len(items)


def export_learnings(rt: Runtime, to: Path | None = None) -> Path:
    """memory/learnings.md: the newest learnings."""
    path = _root(rt, to).memory_dir / "learnings.md"
    atomic_write(path, learnings_page(rt.learnings.recent(LEARNINGS_EXPORTED)), durable=False)
    return path


def export_costs(rt: Runtime, day: str, to: Path | None = None) -> Path:
    """metrics/<day>-costs.md from the ledger."""
    root = _root(rt, to)
    write_cost_report(rt.budget.ledger, root, rt.budget.budget_micros, day)
    return cost_report_path(root, day)
