"""The live panel on a terminal (rich): running steps, their elapsed time, the cost so far.

Imported only when stderr is a terminal: rich costs ~80 ms to import, which a pipe or a
`--json` run should not pay.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from marketing_team.cli.progress_lines import Running, event_line, running_steps, tick
from marketing_team.domain.goal import Goal
from marketing_team.domain.text import terminal_safe


class LiveView:
    """A redrawn panel on a terminal: running steps, their elapsed time, the cost so far."""

    def __init__(self) -> None:
        self._console = Console(stderr=True)
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
            # Text, not a string: rich reads markup in strings ([link=…] becomes an OSC 8 link),
            # and a skill's name is a catalog override's folder name, anyone's text.
            table.add_row(Text(terminal_safe(step.skill)), step.activity, f"{now - step.since:.0f} s")
        if not self._running:
            table.add_row(Text(goal.status.value, style="dim"))
        return Group(head, table)

    def close(self) -> None:
        """Stop redrawing and erase the panel (the summary follows)."""
        self._live.stop()


@contextlib.contextmanager
def spinner(words: str, started: float) -> Iterator[None]:
    """A transient spinner with the seconds waited, while the body runs."""
    done = threading.Event()
    with Console(stderr=True).status(words) as status:
        ticker = threading.Thread(target=tick, daemon=True, args=(
            done, 1.0, lambda: status.update(f"{words} ({time.monotonic() - started:.0f} s)")))
        ticker.start()
        try:
            yield
        finally:
            done.set()
