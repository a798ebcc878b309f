"""Goal overhead: wall time of a goal on a fixed-latency model ÷ its critical path."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import FixedLatencyLLM, Result, server, settled_at
from marketing_team.domain.goal import Category, Goal, Priority
from marketing_team.testing.team import Team

# Real model calls take 5-60 s; 1 s is a conservative floor that still shows our own overhead.
LATENCY_S = 1.0
TARGET = 1.05


def critical_path(goal: Goal, latency_s: float) -> float:
    """Sum over phases of the slowest chain: each skill step is a draft call plus a review call."""
    total = 0.0
    for phase in goal.plan.phases:
        steps = 1 if phase.parallel else len(phase.skills)
        total += steps * 2 * latency_s
    return total


def run() -> Result:
    """Run "Increase signup conversion by 20%" with every model call taking LATENCY_S."""
    llm = FixedLatencyLLM(LATENCY_S)
    with server() as srv, Team(srv, Path(tempfile.mkdtemp(prefix="mt-bench-ws-")), llm) as team:
        team.wait(team.goal("Warm up the worker", category=Category.CONTENT, priority=Priority.P3).id)
        started = time.time()
        # The goal's category is given so planning is one call; the plan call is on the path too.
        goal = team.goal("Increase signup conversion by 20%", category=Category.OPTIMIZATION)
        done = team.wait(goal.id, timeout_s=300)
        wall = settled_at(done) - started  # the goal's own end, not when a poll saw it
    path = critical_path(done, LATENCY_S) + LATENCY_S  # + the plan call
    ratio = wall / path
    return Result("goal overhead", wall, "s", path, ratio, f"<= {TARGET}", ratio <= TARGET,
                  f"({len(done.plan.phases)} phases, {len(done.tasks)} tasks, {LATENCY_S} s per call, "
                  f"{(wall - path) * 1000 / len(done.plan.phases):.0f} ms overhead per phase, "
                  f"status {done.status.value})")


if __name__ == "__main__":
    print(run().line())
