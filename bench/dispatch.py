"""Skill steps on one worker process with a zero-latency model, against bare Celery doing the
same shape: a task, then its review chained after it, with the same broker settings (acks late,
prefetch 1, the priority queues, threads x8) on the same kind of server, and no result stored for
either task (ours stores none for a chained task; storing them was a quarter of the bare pair's
cost, which flattered our ratio). Each worker runs a few steps before it is measured
(connections open, scripts loaded), as a worker that has run a while.

Three rows come from one run: the rate ratio (>= 0.7), the absolute rate (>= 100 steps/s) and our
own time per step (<= 12 ms: the model answers at once, so a step's wall time at saturation is
all ours: claim, prompt, meter, store, review, learnings, advance, messages).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from celery import Celery, chain

from bench.common import CannedLLM, Result, server
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import Category, Goal, GoalStatus, PhaseSpec, Plan, Priority
from marketing_team.orchestration.app import derived_config, static_config
from marketing_team.orchestration.canvas import step_signature
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.store.goals import status_key
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

STEPS = 300
WARM = 50  # steps each worker runs before it is measured
CONCURRENCY = 8
RATIO_TARGET = 0.7
RATE_TARGET = 100.0
OWN_MS_TARGET = 12.0


def _goal(skill: str, goal_id: str) -> Goal:
    plan = Plan(phases=(PhaseSpec(name="bench", skills=(skill,)),), source="routing")
    return Goal(id=goal_id, description="Benchmark dispatch", category=Category.CONTENT,
                priority=Priority.P1, plan=plan, status=GoalStatus.RUNNING,
                tasks=build_tasks(goal_id, plan, Priority.P1, "bench"))


def bare_rate(srv: RunningServer, steps: int, warm: int = WARM) -> float:
    """Pairs/s of bare Celery: a no-op task chained to a no-op review, our broker settings."""
    settings = load_settings(_env_file=None, workspace_dir=Path(tempfile.mkdtemp()))
    app = Celery("bare", set_as_current=False)
    app.conf.update(static_config())
    app.conf.update(derived_config(settings, srv.broker_url))
    done = 0
    lock = threading.Lock()

    @app.task(name="bare.step", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def step(goal_id: str, task_id: str, run: int) -> dict[str, str]:
        return {"task_id": task_id, "status": "completed"}

    @app.task(name="bare.review", shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def review(goal_id: str, task_id: str, run: int) -> dict[str, str]:
        nonlocal done
        with lock:
            done += 1
        return {"task_id": task_id, "decision": "approve"}

    def pairs(count: int) -> float:
        nonlocal done
        done = 0
        started = time.perf_counter()
        for n in range(count):
            ids = (f"goal-{n}", f"task-{n}", 0)
            chain(step.si(*ids).set(queue="skills", priority=3),
                  review.si(*ids).set(queue="director", priority=3)).apply_async()
        wait_for(lambda: done >= count, 300, "the bare pairs", every_s=0.005)
        return count / (time.perf_counter() - started)

    worker = InProcessWorker(app, concurrency=CONCURRENCY).start()
    try:
        pairs(warm)  # connections, scripts and code paths warm, as in a worker that has run a while
        return pairs(steps)
    finally:
        worker.stop(warm=False)


def skill_rate(srv: RunningServer, steps: int, warm: int = WARM) -> float:
    """Skill steps/s (claim, draft, store, review, learning, goal end) on the same setup."""
    with Team(srv, Path(tempfile.mkdtemp(prefix="mt-bench-ws-")), CannedLLM(),
              concurrency=CONCURRENCY) as team:
        _steps(team, warm)  # warmed like the bare worker
        return _steps(team, steps)


def _steps(team: Team, steps: int) -> float:
    """Steps/s for `steps` one-step goals published at once, until every one has settled.

    The end is watched as the bare pairs are, by polling a count every 5 ms (the status indexes'
    sizes, one round trip): following every goal's progress channel instead cost this process
    about 0.7 ms of CPU per step, on the GIL the worker it measures runs on.
    """
    goals = []
    for _ in range(steps):  # stored one by one: each new id is checked against those stored
        goals.append(_goal("copy-editing", team.rt.goals.fresh_id()))
        team.rt.goals.create(goals[-1])
    # Completed first: a step that settles any other way is counted, so the run ends and says so.
    settled = [GoalStatus.COMPLETED, *(s for s in GoalStatus if s.is_settled and s is not GoalStatus.COMPLETED)]
    before = _counts(team, settled)
    started = time.perf_counter()
    for goal in goals:
        step_signature(team.app, goal.tasks[0], goal.run).apply_async()
    wait_for(lambda: sum(_counts(team, settled)) - sum(before) >= steps, 300,
             f"{steps} skill steps", every_s=0.005)
    wall = time.perf_counter() - started
    completed = _counts(team, settled)[0] - before[0]
    if completed < steps:
        raise RuntimeError(f"only {completed} of {steps} skill steps completed")
    return steps / wall


def _counts(team: Team, statuses: list[GoalStatus]) -> list[int]:
    """How many goals each status index holds, read in one round trip."""
    pipe = team.rt.redis.pipeline(transaction=False)
    for status in statuses:
        pipe.zcard(status_key(status))
    return [int(n) for n in pipe.execute()]


def run() -> list[Result]:
    """The three rows of one run."""
    with server() as srv:
        bare = bare_rate(srv, STEPS)
    with server() as srv:
        ours = skill_rate(srv, STEPS)
    ratio = ours / bare
    own_ms = 1000 / ours
    shape = (f"(task + chained review, acks late, prefetch 1, no results stored, threads x{CONCURRENCY}, "
             f"{STEPS} steps)")
    return [
        Result("skill step rate vs bare Celery", ours, "steps/s", bare, ratio, f">= {RATIO_TARGET}",
               ratio >= RATIO_TARGET, shape),
        Result("skill steps per worker process", ours, "steps/s", None, None, f">= {RATE_TARGET:g}",
               ours >= RATE_TARGET, "(zero-latency model; one process)"),
        Result("own time per skill step", own_ms, "ms", 1000 / bare, own_ms / (1000 / bare),
               f"<= {OWN_MS_TARGET:g} ms", own_ms <= OWN_MS_TARGET,
               "(wall per step at saturation with a zero-latency model: all of it is ours; "
               "baseline: bare Celery's pair)"),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.line())
