"""Goal state persisted in the workspace: state.json holds it, a per-goal lock guards it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import ValidationError

from marketing_team.domain.errors import CorruptFileError, NotFoundError
from marketing_team.domain.goal import Goal
from marketing_team.domain.values import utcnow
from marketing_team.store.workspace import Workspace, atomic_write

R = TypeVar("R")


class GoalPages(Protocol):
    """Renders a goal's human pages (the director's markdown), handed to the store by its owner."""

    def goal_page(self, goal: Goal) -> str:
        """goal.md: the headline fields as front matter, then where the goal stands."""
        ...

    def plan_page(self, goal: Goal) -> str:
        """plan.md: the phases and where the plan came from."""
        ...


class GoalStore:
    """Load, save and update goals; every change runs under the goal's cross-process lock.

    The state lives in state.json (parsed by pydantic in well under a millisecond: it is read on
    every step); goal.md is its human page, rendered by the pages handed in.
    """

    def __init__(self, workspace: Workspace, pages: GoalPages | None = None) -> None:
        self.workspace = workspace
        self.pages = pages

    def path(self, goal_id: str) -> Path:
        """The machine state of a goal."""
        return self.workspace.goal_dir(goal_id) / "state.json"

    def page(self, goal_id: str) -> Path:
        """The goal.md page of a goal."""
        return self.workspace.goal_dir(goal_id) / "goal.md"

    def exists(self, goal_id: str) -> bool:
        """True when the goal has a folder with its state."""
        return self.path(goal_id).is_file()

    def load(self, goal_id: str) -> Goal:
        """Read a goal; NotFoundError when unknown, CorruptFileError naming the file when broken."""
        path = self.path(goal_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"unknown goal {goal_id}") from None
        try:
            return Goal.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            raise CorruptFileError(f"{path}: {loc + ': ' if loc else ''}{first.get('msg')}") from None

    def save(self, goal: Goal) -> None:
        """Write state.json and goal.md atomically (callers hold the lock for read-modify-write)."""
        goal.updated_at = utcnow()
        atomic_write(self.path(goal.id), goal.model_dump_json(indent=1))
        if self.pages is not None:
            atomic_write(self.page(goal.id), self.pages.goal_page(goal), durable=False)

    def create(self, goal: Goal) -> None:
        """Write a new goal's folder: goal.md and plan.md."""
        self.workspace.goal_dir(goal.id).mkdir(parents=True, exist_ok=False)
        self.save(goal)
        if self.pages is not None:
            atomic_write(self.workspace.goal_dir(goal.id) / "plan.md", self.pages.plan_page(goal))

    def update(self, goal_id: str, change: Callable[[Goal], R]) -> tuple[Goal, R]:
        """Apply change to the goal under its lock and save; returns the goal and change's result."""
        with self.workspace.goal_lock(goal_id):
            goal = self.load(goal_id)
            result = change(goal)
            self.save(goal)
            return goal, result

    def ids(self) -> list[str]:
        """Goal ids, newest first."""
        root = self.workspace.goals_dir
        if not root.is_dir():
            return []
        found = [p for p in root.iterdir() if (p / "state.json").is_file()]

        def created(folder: Path) -> float:
            # plan.md is written once, when the goal is created (ids only carry the day).
            plan = folder / "plan.md"
            return plan.stat().st_mtime if plan.is_file() else 0.0

        return [p.name for p in sorted(found, key=lambda p: (p.name.split("-")[-2], created(p)),
                                       reverse=True)]

    def all(self) -> Iterator[Goal]:
        """Every goal, newest first."""
        for goal_id in self.ids():
            yield self.load(goal_id)
