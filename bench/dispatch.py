"""Dispatch: skill tasks/s with a zero-latency model ÷ bare Celery no-op tasks/s, same worker setup."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from bench.common import FixedLatencyLLM, Result, server
from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import (
    Category,
    Goal,
    GoalStatus,
    PhaseSpec,
    Plan,
    Priority,
    TaskStatus,
)
from marketing_team.domain.values import new_id
from marketing_team.orchestration.canvas import step_signature
from marketing_team.testing.processes import wait_for
from marketing_team.testing.team import Team

SKILL_TASKS = 60
NOOPS = 600
TARGET = 0.5


def _goal(skill: str) -> Goal:
    plan = Plan(phases=(PhaseSpec(name="1. bench", skills=(skill,)),), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Benchmark dispatch", category=Category.CONTENT,
                priority=Priority.P1, plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, "bench"))


def run() -> Result:
    """Time SKILL_TASKS skill runs (draft + review) and NOOPS bare tasks on the same worker."""
    with server() as srv, Team(srv, Path(tempfile.mkdtemp(prefix="mt-bench-ws-")),
                               FixedLatencyLLM(0.0)) as team:
        done = 0
        lock = threading.Lock()

        @team.app.task(name="bench.noop", shared=False)  # type: ignore[untyped-decorator]
        def noop() -> None:
            nonlocal done
            with lock:
                done += 1

        team.worker.stop() if team.worker else None  # re-start so the new task is registered
        team.worker.start() if team.worker else None
        started = time.perf_counter()
        for _ in range(NOOPS):
            noop.apply_async(queue="skills")
        wait_for(lambda: done >= NOOPS, 120, "the no-op tasks", every_s=0.005)
        noop_rate = NOOPS / (time.perf_counter() - started)

        goals = [_goal("copy-editing") for _ in range(SKILL_TASKS)]
        for goal in goals:
            goal.status = GoalStatus.RUNNING  # as dispatch.start leaves it (its tasks may run)
            team.rt.goals.create(goal)
        started = time.perf_counter()
        for goal in goals:
            step_signature(team.app, goal.tasks[0], goal.run).apply_async()
        wait_for(lambda: all(team.rt.goals.load(g.id).tasks[0].status is TaskStatus.APPROVED
                             for g in goals), 300, "the skill tasks", every_s=0.01)
        skill_rate = SKILL_TASKS / (time.perf_counter() - started)
    ratio = skill_rate / noop_rate
    return Result("dispatch rate", skill_rate, "tasks/s", noop_rate, ratio, f">= {TARGET}",
                  ratio >= TARGET, "(each skill task: claim, draft, store, review, learning; "
                  f"threads x{team.concurrency})")


if __name__ == "__main__":
    print(run().line())
