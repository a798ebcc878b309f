"""I/O concurrency: 20 parallel skills whose every model call (draft and review) takes 1 s, on one
worker process: the critical path is 2 s."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import FixedLatencyLLM, Result, server, settled_at
from marketing_team.catalog.loader import load_catalog
from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import Category, Goal, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.testing.team import Team

PARALLEL = 20
LATENCY_S = 1.0
TARGET_S = 2.5


def run() -> Result:
    """One phase of 20 different skills in parallel on one worker with 20 threads."""
    skills = tuple(sorted(s for s in load_catalog(None).skills if s != "director-review"))[:PARALLEL]
    plan = Plan(phases=(PhaseSpec(name="1. all at once", skills=skills, parallel=True),), source="routing")
    goal_id = new_id("goal")
    goal = Goal(id=goal_id, description="Twenty skills at once", category=Category.STRATEGIC,
                priority=Priority.P1, plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, "bench"))
    with server() as srv, Team(srv, Path(tempfile.mkdtemp(prefix="mt-bench-ws-")), FixedLatencyLLM(LATENCY_S),
                               concurrency=PARALLEL) as team:
        (team.rt.workspace.context_file.parent).mkdir(parents=True, exist_ok=True)
        team.rt.workspace.context_file.write_text("Bench context.")
        started = time.time()
        team.launch(goal)
        done = team.wait(goal.id, timeout_s=120)
        wall = settled_at(done) - started  # the goal's own end, not when a poll saw it
    path = 2 * LATENCY_S  # a draft, then its review
    return Result("20 parallel skills, 1 s calls", wall, "s", path, wall / path, f"<= {TARGET_S} s",
                  wall <= TARGET_S, f"(one worker process, threads x{PARALLEL}, status {done.status.value})")


if __name__ == "__main__":
    print(run().line())
