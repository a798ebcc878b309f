"""What a person sees while a goal runs: a live panel on a terminal, plain lines anywhere else.

The panel (rich) shows each running step with its elapsed time and the goal's cost so far, redrawn
while calls run; finished steps scroll above it as lines. Without a terminal (a pipe, a log file,
CI) the same lines are printed, plus a "still working" line when nothing was said for a while, so
a log never goes silent for the length of a slow call. rich is used because it redraws a region of
the terminal portably and degrades by itself when the terminal cannot (TERM=dumb).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from marketing_team.cli.common import say
from marketing_team.cli.progress_lines import (
    Running,
    drafting_word,
    event_line,
    event_phase,
    running_steps,
    tick,
)
from marketing_team.domain.goal import Goal

QUIET_LINE_EVERY_S = 30.0  # plain output: a "still working" line after this long without one


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
    _said: set[tuple[str, str]] = field(default_factory=set)  # (task, activity) lines printed

    def update(self, goal: Goal, event: dict[str, Any] | None) -> None:
        """Print the event's line, the steps that just started, or a quiet-time reminder."""
        before = self._running
        now_running = running_steps(goal, before)
        # A view that fell behind reads a goal already further on than the event in hand: steps of
        # later phases wait for their own events, so phase k is done before k+1 is said to start.
        horizon = None if event is None else event_phase(goal, event)
        shown = {task_id: step for task_id, step in now_running.items()
                 if horizon is None or goal.task(task_id).phase_index + 1 <= horizon}
        fresh = [(task_id, step) for task_id, step in shown.items()
                 if step.activity != "in review"  # its verdict line follows within seconds
                 and (task_id not in before or before[task_id].activity != step.activity)]
        if event is not None and event.get("event") == "task_started":
            # Its step may be drafted (even reviewed) already: the start is said from the event.
            said = drafting_word(int(event.get("revision") or 0))
            task_id = str(event.get("task_id"))
            if (task_id, said) not in self._said and all(t != task_id for t, _ in fresh):
                fresh.append((task_id, Running(str(event.get("skill")), said, time.monotonic())))
        lines = []
        for task_id, step in fresh:
            self._said.add((task_id, step.activity))
            lines.append(f"[phase {goal.task(task_id).phase_index + 1}/{len(goal.plan.phases)}] "
                         f"{step.skill}: {step.activity}")
        held = {task_id: before[task_id] for task_id in now_running
                if task_id not in shown and task_id in before}
        self._running = {**held, **shown}
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


@contextlib.contextmanager
def planning_status(quiet: bool, model: str, every_s: float = QUIET_LINE_EVERY_S) -> Iterator[None]:
    """While the Director's model plans (it can take long against a slow or silent endpoint): on
    a terminal a transient spinner with the seconds waited, elsewhere a line every every_s."""
    if quiet:
        yield
        return
    done = threading.Event()
    started = time.monotonic()
    words = f"planning: waiting for {model} to propose a plan"
    if live_terminal():
        from marketing_team.cli.live_panel import spinner  # rich: only on a terminal (~80 ms)

        with spinner(words, started):
            yield
        return
    ticker = threading.Thread(target=tick, daemon=True, args=(
        done, every_s, lambda: say(f"{words} ({time.monotonic() - started:.0f} s so far)", err=True)))
    ticker.start()
    try:
        yield
    finally:
        done.set()


def live_terminal() -> bool:
    """True when stderr is a terminal that can redraw a region (not a pipe, not TERM=dumb)."""
    return sys.stderr.isatty() and os.environ.get("TERM", "") not in ("", "dumb", "unknown")


def make_view(quiet: bool) -> View | None:
    """A live panel on a terminal, plain lines otherwise, nothing for --json."""
    if quiet:
        return None
    if live_terminal():
        from marketing_team.cli.live_panel import LiveView  # rich: only on a terminal (~80 ms)

        return LiveView()
    return PlainView()
