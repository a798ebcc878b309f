"""Goal state persisted in the workspace: goal.md front matter holds it, a per-goal lock guards it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from marketing_team import frontmatter
from marketing_team.domain import Goal, Plan, Priority, TaskRecord, new_id, utcnow
from marketing_team.errors import CorruptFileError, NotFoundError
from marketing_team.workspace import Workspace, atomic_write

R = TypeVar("R")


def build_tasks(goal_id: str, plan: Plan, priority: Priority, description: str) -> list[TaskRecord]:
    """One pending task per skill slot of the plan, in order."""
    tasks = []
    for index, phase in enumerate(plan.phases):
        for slug in phase.skills:
            requirements = (f"Goal: {description}\nPhase {index + 1} of {len(plan.phases)}: "
                            f"{phase.name}\nYour part: produce the {slug} deliverable for this goal.")
            tasks.append(TaskRecord(id=new_id(slug), goal_id=goal_id, phase_index=index,
                                    skill=slug, priority=priority, requirements=requirements))
    return tasks


def deliverable_name(task: TaskRecord) -> str:
    """File name of a task's deliverable for its current revision."""
    suffix = "" if task.revision == 0 else f".rev{task.revision}"
    return f"{task.phase_index + 1:02d}-{task.skill}{suffix}.md"


class GoalStore:
    """Load, save and update goals; every change runs under the goal's cross-process lock.

    The state lives in state.json (parsed by pydantic in well under a millisecond: it is read on
    every step); goal.md is its human page, with the headline fields as YAML front matter.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

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
        from marketing_team.reports import goal_body

        goal.updated_at = utcnow()
        atomic_write(self.path(goal.id), goal.model_dump_json(indent=1))
        meta = {"goal_id": goal.id, "status": goal.status.value, "category": goal.category.value,
                "priority": goal.priority.value, "phase": goal.current_phase + 1,
                "phases": len(goal.plan.phases), "cost_usd": str(goal.cost_usd),
                "created_at": goal.created_at.isoformat(), "updated_at": goal.updated_at.isoformat()}
        atomic_write(self.page(goal.id), frontmatter.dump(meta, goal_body(goal)), durable=False)

    def create(self, goal: Goal) -> None:
        """Write a new goal's folder: goal.md and plan.md."""
        from marketing_team.reports import plan_markdown

        self.workspace.goal_dir(goal.id).mkdir(parents=True, exist_ok=False)
        self.save(goal)
        atomic_write(self.workspace.goal_dir(goal.id) / "plan.md", plan_markdown(goal))

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
