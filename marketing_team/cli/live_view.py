"""What a person sees while a goal runs: a live panel on a terminal, plain lines anywhere else.

The panel (rich) shows each running step with its elapsed time and the goal's cost so far, redrawn
while calls run; finished steps scroll above it as lines. Without a terminal (a pipe, a log file,
CI) the same lines are printed, plus a "still working" line when nothing was said for a while, so
a log never goes silent for the length of a slow call. rich is used because it redraws a region of
the terminal portably and degrades by itself when the terminal cannot (TERM=dumb).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from marketing_team.cli.common import say
from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus
from marketing_team.domain.text import terminal_safe
from marketing_team.domain.values import utcnow

QUIET_LINE_EVERY_S = 30.0  # plain output: a "still working" line after this long without one
_REVIEW_WORDS = {"approved": "approved", "revision": "sent back for revision",
                 "blocked": "waits for your review (mtctl reviews list)", "failed": "rejected"}


@dataclass
class Running:
    """One step being worked on: drafting or reviewing, since when (monotonic seconds)."""

    skill: str
    activity: str
    since: float


def running_steps(goal: Goal, known: dict[str, Running]) -> dict[str, Running]:
    """The steps at work now, keeping the start time of those already known (state, not events:
    a view that joins late or misses an event still shows the truth)."""
    now_wall, now = utcnow(), time.monotonic()
    found: dict[str, Running] = {}
    for task in goal.tasks:
        activity = _activity(task)
        if activity is None:
            continue
        before = known.get(task.id)
        if before is not None and before.activity == activity:
            found[task.id] = before
            continue
        age = max(0.0, (now_wall - task.updated_at).total_seconds())
        found[task.id] = Running(task.skill, activity, now - age)
    return found


def _activity(task: TaskRecord) -> str | None:
    if task.status is TaskStatus.IN_PROGRESS:
        return "drafting" if task.revision == 0 else f"revising ({task.revision})"
    if task.status is TaskStatus.COMPLETED:
        return "in review"
    return None


def event_line(goal: Goal, event: dict[str, Any]) -> str | None:
    """The line a finished or changed step prints, labelled with that step's own phase."""
    kind = event.get("event")
    total = len(goal.plan.phases)
    phase = f"[phase {_phase_of(goal, event)}/{total}]"
    skill = event.get("skill")
    if kind == "task_completed":
        revision = int(event.get("revision") or 0)
        what = "draft ready" if revision == 0 else f"revision {revision} ready"
        return f"{phase} {skill}: {what}  (${goal.cost_usd:.4f} so far)"
    if kind == "task_reviewed":
        said = _REVIEW_WORDS.get(str(event.get("status")), str(event.get("status")))
        score = _score(goal, event)
        return f"{phase} {skill}: {said}{score}"
    if kind == "task_failed":
        return f"{phase} {skill}: failed ({event.get('reason')})"
    if kind == "task_deferred":
        return f"{phase} step waits for budget: {event.get('reason')}"
    if kind == "phase_done":
        ended = int(event.get("phase") or 0)
        if event.get("next") == "wait":
            return f"phase {ended}/{total} waits for a person (mtctl reviews list)"
        return f"phase {ended}/{total} done"
    if kind == "goal_paused":
        return f"goal paused: {event.get('reason')}"
    return None


def _phase_of(goal: Goal, event: dict[str, Any]) -> int:
    task_id = event.get("task_id")
    for task in goal.tasks:
        if task.id == task_id:
            return task.phase_index + 1
    return goal.phase_number


def _score(goal: Goal, event: dict[str, Any]) -> str:
    for task in goal.tasks:
        if task.id == event.get("task_id") and task.last_review and task.last_review.overall:
            return f" (score {task.last_review.overall:.1f})"
    return ""


class View(Protocol):
    """Where progress goes while a goal is followed."""

    def update(self, goal: Goal, event: dict[str, Any] | None) -> None:
        """Show an event (None: only time passed) against the goal's latest state."""

    def close(self) -> None:
        """Leave the terminal clean for the summary."""


@dataclass
class PlainView:
    """Lines on stderr: one per event, and a "still working" line when quiet for a while."""

    quiet_every_s: float = QUIET_LINE_EVERY_S
    _running: dict[str, Running] = field(default_factory=dict)
    _last_line: float = field(default_factory=time.monotonic)

    def update(self, goal: Goal, event: dict[str, Any] | None) -> None:
        """Print the event's line, the steps that just started, or a quiet-time reminder."""
        before = self._running
        self._running = running_steps(goal, before)
        lines = [f"[phase {goal.task(task_id).phase_index + 1}/{len(goal.plan.phases)}] "
                 f"{step.skill}: {step.activity}"
                 for task_id, step in self._running.items()
                 if step.activity != "in review"  # its verdict line follows within seconds
                 and (task_id not in before or before[task_id].activity != step.activity)]
        line = None if event is None else event_line(goal, event)
        lines += [line] if line else []
        now = time.monotonic()
        if not lines and self._running and now - self._last_line >= self.quiet_every_s:
            lines = ["still working: " + ", ".join(
                f"{s.skill} {s.activity} {now - s.since:.0f} s" for s in self._running.values())
                + f"  (${goal.cost_usd:.4f} so far)"]
        for text in lines:
            say(text, err=True)
            self._last_line = now

    def close(self) -> None:
        """Nothing to clean: every line is already printed."""


class LiveView:
    """A redrawn panel on a terminal: running steps, their elapsed time, the cost so far."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._running: dict[str, Running] = {}
        self._started = time.monotonic()
        self._live = Live(Text(""), console=self._console, refresh_per_second=4, transient=True)
        self._live.start()

    def update(self, goal: Goal, event: dict[str, Any] | None) -> None:
        """Print the event's line above the panel and redraw the panel."""
        self._running = running_steps(goal, self._running)
        line = None if event is None else event_line(goal, event)
        if line:
            self._live.console.print(Text(terminal_safe(line)))
        self._live.update(self._panel(goal))

    def _panel(self, goal: Goal) -> Group:
        now = time.monotonic()
        head = Text(f"goal {goal.id} · phase {goal.phase_number}/{len(goal.plan.phases)} · "
                    f"${goal.cost_usd:.4f} so far · {now - self._started:.0f} s", style="bold")
        table = Table(show_header=False, box=None, padding=(0, 2))
        for step in self._running.values():
            table.add_row(step.skill, step.activity, f"{now - step.since:.0f} s")
        if not self._running:
            table.add_row(Text(goal.status.value, style="dim"))
        return Group(head, table)

    def close(self) -> None:
        """Stop redrawing and erase the panel (the summary follows)."""
        self._live.stop()


@contextlib.contextmanager
def planning_status(quiet: bool, model: str, every_s: float = QUIET_LINE_EVERY_S) -> Iterator[None]:
    """While the Director's model plans (it can take long against a slow or silent endpoint): on
    a terminal a transient spinner with the seconds waited, elsewhere a line every every_s."""
    if quiet:
        yield
        return
    console = Console(stderr=True)
    done = threading.Event()
    started = time.monotonic()
    words = f"planning: waiting for {model} to propose a plan"
    if _live_terminal(console):
        with console.status(words) as status:
            ticker = threading.Thread(target=_tick, daemon=True, args=(
                done, 1.0, lambda: status.update(f"{words} ({time.monotonic() - started:.0f} s)")))
            ticker.start()
            try:
                yield
            finally:
                done.set()
        return
    ticker = threading.Thread(target=_tick, daemon=True, args=(
        done, every_s, lambda: say(f"{words} ({time.monotonic() - started:.0f} s so far)", err=True)))
    ticker.start()
    try:
        yield
    finally:
        done.set()


def _tick(done: threading.Event, every_s: float, action: Callable[[], None]) -> None:
    while not done.wait(every_s):
        action()


def _live_terminal(console: Console) -> bool:
    return sys.stderr.isatty() and console.is_terminal and not console.is_dumb_terminal


def make_view(quiet: bool) -> View | None:
    """A live panel on a terminal, plain lines otherwise, nothing for --json."""
    if quiet:
        return None
    console = Console(stderr=True)
    if _live_terminal(console):
        return LiveView(console)
    return PlainView()
