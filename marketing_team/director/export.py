"""The markdown folder people read: written from what Redis holds, never read back.

`mtctl goal` writes its goal's folder as events arrive and in full at the end; `mtctl goals
export` rebuilds any goal's folder at any time, into the workspace or another directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from marketing_team.budget.report import cost_report_path, write_cost_report
from marketing_team.director.daily_report import report_markdown
from marketing_team.director.pages import (
    goal_page,
    learnings_page,
    plan_markdown,
    review_item_page,
    summary_markdown,
)
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import CorruptStateError, InputError, NotFoundError
from marketing_team.domain.values import OFFLINE_PROVIDER, check_id, utcnow
from marketing_team.observability.metrics import today
from marketing_team.store.documents import check_name
from marketing_team.store.workspace import Workspace, atomic_write

log = logging.getLogger(__name__)
LEARNINGS_EXPORTED = 200
PAGE = 100  # goal ids read from the index per round trip by export_everything


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
        atomic_write(folder / "summary.md", summary_markdown(goal, goal.provider == OFFLINE_PROVIDER),
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
    folder = goal_folder(rt, goal_id, to)
    try:
        export_status(rt, goal_id, to)
        for name, text in rt.documents.all(goal_id).items():
            atomic_write(folder / check_name(name), text, durable=False)
    except OSError as exc:  # --to names a file, a read-only place, a full disk
        raise InputError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder


def export_reviews(rt: Runtime, to: Path | None = None) -> int:
    """reviews/<id>.md for every kept review item, open or decided; returns how many."""
    root = _root(rt, to)
    written = 0
    for item in rt.reviews.every():
        atomic_write(root.reviews_dir / f"{item.id}.md", review_item_page(item), durable=False)
        written += 1
    return written


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


def export_daily_report(rt: Runtime, day: date, to: Path | None = None) -> Path:
    """metrics/<day>-report.md: runs, failures, tokens and cost per skill, and the day's goals."""
    path = _root(rt, to).metrics_dir / f"{day.isoformat()}-report.md"
    atomic_write(path, report_markdown(rt, day), durable=False)
    return path


@dataclass
class Exported:
    """What export_everything wrote, and the goals it could not read."""

    goals: int = 0
    review_items: int = 0
    skipped: int = 0


def export_everything(rt: Runtime, to: Path | None = None) -> Exported:
    """Every kept goal's folder, the review items, learnings, and today's cost and metrics reports.

    For goals no `mtctl goal` followed (started by a schedule, a webhook, or `--detach`): their
    folder exists only once something exports it. An unreadable goal is skipped with a warning.
    """
    root = _root(rt, to).root
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {root}: {exc.strerror or exc}") from None
    done = Exported()
    offset = 0
    while ids := rt.goals.ids(PAGE, offset=offset):
        offset += len(ids)
        for goal_id in ids:
            try:
                export_goal(rt, goal_id, to)
                done.goals += 1
            except (NotFoundError, CorruptStateError, InputError) as exc:  # expired or broken
                log.warning(f"goal {goal_id} not exported: {exc}",
                            extra={"event": "export_skipped", "goal_id": goal_id})
                done.skipped += 1
    done.review_items = export_reviews(rt, to)
    export_learnings(rt, to)
    day = today(rt.settings.timezone)
    export_costs(rt, utcnow().strftime("%Y-%m-%d"), to)
    export_daily_report(rt, day, to)
    return done
