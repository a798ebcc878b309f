"""Goals and their tasks: priorities, categories, plans, and the enforced task status machine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketing_team.domain.errors import IllegalTransitionError, NotFoundError
from marketing_team.domain.event import Event
from marketing_team.domain.review import Review
from marketing_team.domain.values import Frozen, utcnow


class Priority(StrEnum):
    """P0 critical … P3 low."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """0 for P0 … 3 for P3."""
        return int(self.value[1])

    @property
    def broker_priority(self) -> int:
        """Redis transport priority: lower numbers are consumed first."""
        return self.rank * 3


class Category(StrEnum):
    """What kind of goal this is; drives routing and templates."""

    STRATEGIC = "strategic"
    CONTENT = "content"
    OPTIMIZATION = "optimization"
    RETENTION = "retention"
    COMPETITIVE = "competitive"
    MEASUREMENT = "measurement"


class GoalStatus(StrEnum):
    """Lifecycle of a goal."""

    PLANNED = "planned"
    RUNNING = "running"
    WAITING_BUDGET = "waiting_budget"
    WAITING_HUMAN = "waiting_human"
    COMPLETED = "completed"
    FAILED = "failed"
    BUDGET_EXHAUSTED = "budget_exhausted"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # stopped by the person who started it (Ctrl-C); resumable

    @property
    def is_final(self) -> bool:
        """True for statuses that end a goal for good (resume cannot reopen them)."""
        return self in (GoalStatus.COMPLETED, GoalStatus.CANCELLED)

    @property
    def is_settled(self) -> bool:
        """True when nothing will happen without a person: the CLI stops watching."""
        return self not in (GoalStatus.PLANNED, GoalStatus.RUNNING, GoalStatus.WAITING_BUDGET)

    @property
    def expires(self) -> bool:
        """True when nothing is owed to the goal: it is kept only for the retention period.

        A goal waiting for a person is settled but never expires: the decision is still owed.
        """
        return self.is_settled and self is not GoalStatus.WAITING_HUMAN


class TaskStatus(StrEnum):
    """Lifecycle of one skill run."""

    PENDING = "pending"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REVISION = "revision"
    BLOCKED = "blocked"
    APPROVED = "approved"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """approved, failed and cancelled never change again."""
        return self in (TaskStatus.APPROVED, TaskStatus.FAILED, TaskStatus.CANCELLED)


_T = TaskStatus
_TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    _T.PENDING: frozenset({_T.IN_PROGRESS, _T.DEFERRED}),
    _T.DEFERRED: frozenset({_T.PENDING}),
    _T.IN_PROGRESS: frozenset({_T.COMPLETED}),
    _T.COMPLETED: frozenset({_T.APPROVED, _T.REVISION, _T.FAILED, _T.BLOCKED}),
    _T.REVISION: frozenset({_T.IN_PROGRESS}),
    # A blocked task waits for a person: approve, ask for a revision, or reject.
    _T.BLOCKED: frozenset({_T.APPROVED, _T.REVISION}),
}


def check_task_move(current: TaskStatus, new: TaskStatus) -> None:
    """Raise IllegalTransitionError unless the status machine allows current → new."""
    if current.is_terminal:
        raise IllegalTransitionError(f"task status {current} is terminal; cannot move to {new}")
    if new in (_T.FAILED, _T.CANCELLED) or new in _TASK_MOVES.get(current, frozenset()):
        return
    raise IllegalTransitionError(f"task status cannot move from {current} to {new}")


class PhaseSpec(Frozen):
    """One phase of a plan: skills run in order, or all at once."""

    name: str = Field(min_length=1, max_length=80)
    skills: tuple[str, ...] = Field(min_length=1)
    parallel: bool = False


class Plan(Frozen):
    """Ordered phases chosen for a goal, with where they came from."""

    phases: tuple[PhaseSpec, ...] = Field(min_length=1)
    source: Literal["llm", "template", "routing", "pipeline"]
    template: str | None = None
    rationale: str = ""
    learnings_used: tuple[str, ...] = ()
    note: str = ""  # how it was chosen: the model's plan accepted, or why the rule plan stands in


class TaskRecord(BaseModel):
    """One skill run inside a goal; mutated only through `move`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    goal_id: str
    phase_index: int = Field(ge=0)
    skill: str
    priority: Priority
    requirements: str = ""
    inputs: list[str] = Field(default_factory=list)
    revision: int = Field(0, ge=0)
    fresh_attempts: int = Field(0, ge=0)
    output: str | None = None  # the deliverable's document name in the goal (e.g. 01-seo-audit.md)
    status: TaskStatus = TaskStatus.PENDING
    feedback: str | None = None
    last_review: Review | None = None
    cost_usd: Decimal = Decimal("0")
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None
    error: str | None = None
    # The paid replies whose cost is counted, by the identity the ledger settled them under
    # (and the reply-cache keys of the calls whose tokens are counted).
    billed: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)

    def move(self, new: TaskStatus) -> None:
        """Change status if the machine allows it, else raise IllegalTransitionError."""
        check_task_move(self.status, new)
        self.status = new
        self.updated_at = utcnow()


class Goal(BaseModel):
    """A goal with its plan, its tasks and where it stands."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    description: str = Field(min_length=1, max_length=2000)
    category: Category
    priority: Priority
    status: GoalStatus = GoalStatus.PLANNED
    status_reason: str = ""
    plan: Plan
    pipeline: str | None = None
    source: str = "cli"
    event: Event | None = None  # what started the goal; its data reaches prompts only quoted
    tasks: list[TaskRecord] = Field(default_factory=list)
    current_phase: int = 0
    run: int = 0  # bumped by every resume: messages of an earlier run end as no-ops
    dispatched_phase: int = -1  # the phase of this run whose canvas a publisher claimed
    republished: int = 0  # times the sweeper republished the current phase without progress
    consecutive_failures: int = 0
    cost_usd: Decimal = Decimal("0")
    provider: str = "offline"
    catalog_fingerprint: str = ""  # the catalog the goal was planned with; other catalogs refuse it
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("goal text is empty")
        return value.strip()

    def task(self, task_id: str) -> TaskRecord:
        """The task with this id, or NotFoundError."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise NotFoundError(f"no task {task_id} in goal {self.id}")

    def charge(self, task_id: str, charges: Iterable[tuple[str, Decimal]], *, to_task: bool = True) -> None:
        """Count each paid reply of a call once, by the identity the ledger settled it under: two
        copies of a step that each paid (a takeover) both count, as the ledger recorded both; a
        copy that replayed a stored reply adds nothing the first copy counted."""
        task = self.task(task_id)
        for marker, cost in charges:
            if marker in task.billed:
                continue
            task.billed.append(marker)
            self.cost_usd += cost
            if to_task:
                task.cost_usd += cost

    @property
    def phase_number(self) -> int:
        """The phase a person is told about, from 1 (a finished goal stays on its last phase)."""
        return max(1, min(self.current_phase + 1, len(self.plan.phases)))

    def phase_tasks(self, index: int) -> list[TaskRecord]:
        """The latest task of each skill slot in a phase (revisions reuse the slot's record)."""
        return [t for t in self.tasks if t.phase_index == index]


def deliverable_name(task: TaskRecord) -> str:
    """File name of a task's deliverable for its current revision."""
    suffix = "" if task.revision == 0 else f".rev{task.revision}"
    return f"{task.phase_index + 1:02d}-{task.skill}{suffix}.md"
