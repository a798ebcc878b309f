"""Human review items stored as markdown files: escalations wait there for a person."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from marketing_team.domain.errors import CorruptFileError, InputError, NotFoundError
from marketing_team.domain.review_item import ItemStatus, Reason, ReviewItem
from marketing_team.domain.values import check_id, new_id, utcnow
from marketing_team.store import frontmatter
from marketing_team.store.workspace import Workspace, atomic_write, file_lock


class ReviewQueue:
    """Items stored as markdown files under workspace/reviews/, one per item."""

    def __init__(self, workspace: Workspace) -> None:
        self.root = workspace.reviews_dir

    def _path(self, item_id: str) -> Path:
        return self.root / f"{check_id(item_id, 'review id')}.md"

    def save(self, item: ReviewItem) -> None:
        """Write an item atomically."""
        body = [f"# Review needed: {item.skill or 'goal'} ({item.reason.value})", "",
                f"- Goal: `{item.goal_id}`", f"- Task: `{item.task_id or '—'}`",
                f"- Status: **{item.status.value}**", f"- Deliverable: {item.deliverable or '—'}", "",
                item.summary, ""]
        if item.notes:
            body += ["## Reviewer notes", item.notes, ""]
        body += ["Decide with `mtctl reviews approve|revise --notes ...|reject " + item.id + "`.", ""]
        atomic_write(self._path(item.id), frontmatter.dump(item.model_dump(mode="json"), "\n".join(body)))

    def open_item(self, goal_id: str, reason: Reason, summary: str, task_id: str | None = None,
                  skill: str | None = None, deliverable: str | None = None) -> ReviewItem:
        """Create an item unless an open one exists for the same task and reason."""
        with file_lock(self.root / ".lock"):
            for existing in self.list(ItemStatus.OPEN):
                if (existing.goal_id, existing.task_id, existing.reason) == (goal_id, task_id, reason):
                    return existing
            item = ReviewItem(id=new_id("review"), goal_id=goal_id, task_id=task_id, skill=skill,
                              reason=reason, summary=summary, deliverable=deliverable)
            self.save(item)
            return item

    def load(self, item_id: str) -> ReviewItem:
        """One item; NotFoundError when unknown, CorruptFileError naming a broken file."""
        path = self._path(item_id)
        if not path.is_file():
            raise NotFoundError(f"unknown review item {item_id}")
        meta, _ = frontmatter.read(path)
        try:
            return ReviewItem.model_validate(meta)
        except ValidationError:
            raise CorruptFileError(f"{path}: not a valid review item") from None

    def list(self, status: ItemStatus | None = None) -> list[ReviewItem]:
        """Items, newest first, optionally only those with a status."""
        if not self.root.is_dir():
            return []
        items = [self.load(p.stem) for p in self.root.glob("review-*.md")]
        items.sort(key=lambda i: i.created_at, reverse=True)
        return [i for i in items if status is None or i.status is status]

    def decide(self, item_id: str, status: ItemStatus, notes: str = "") -> ReviewItem:
        """Record a person's decision on an open item."""
        with file_lock(self.root / ".lock"):
            item = self.load(item_id)
            if item.status is not ItemStatus.OPEN:
                raise InputError(f"review item {item_id} is already {item.status.value}")
            decided = item.model_copy(update={"status": status, "notes": notes, "decided_at": utcnow()})
            self.save(decided)
            return decided
