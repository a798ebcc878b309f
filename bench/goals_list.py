"""`mtctl goals list` and `/metrics` at 10,000 stored goals against the same at 10: read from indexes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from bench.common import Result, server
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import build_tasks
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import Category, Goal, GoalStatus, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.llm.offline import OfflineProvider
from marketing_team.web.status import metrics

SMALL, LARGE = 10, 10_000
REPEATS = 100
BATCHES = 9
TARGET = 1.5
STATUSES = (GoalStatus.COMPLETED, GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.RUNNING)


def _fill(rt: Runtime, count: int) -> None:
    plan = Plan(phases=(PhaseSpec(name="1", skills=("copywriting", "page-cro"), parallel=True),),
                source="routing")
    made = 0
    while made < count:
        goal_id = new_id("goal")
        goal = Goal(id=goal_id, description=f"Goal {made}", category=Category.CONTENT,
                    priority=Priority.P2, plan=plan, status=STATUSES[made % len(STATUSES)],
                    tasks=build_tasks(goal_id, plan, Priority.P2, f"Goal {made}"))
        try:
            rt.goals.create(goal)
        except InputError:
            continue  # ids carry 6 random hex digits a day: 10,000 in one day may collide
        made += 1


def _time(action: Callable[[], object]) -> float:
    """Milliseconds per call: the median of several batches (sub-millisecond work is noisy)."""
    action()  # warm
    batches = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(REPEATS):
            action()
        batches.append((time.perf_counter() - started) * 1000 / REPEATS)
    return statistics.median(batches)


def _both(rt: Runtime) -> tuple[float, float]:
    # The same page in both runs (10 rows: all there are in the small store), so the only
    # difference measured is how many goals are stored.
    return _time(lambda: rt.goals.recent(SMALL)), _time(lambda: metrics(rt))


def run() -> Result:
    """Time a page of the newest 10 and one scrape with 10 goals stored, then with 10,000."""
    with server() as running:
        settings = load_settings(_env_file=None, redis_url=running.url)
        rt = build_runtime(settings, running.broker_url, OfflineProvider())
        _fill(rt, SMALL)
        small_list, small_scrape = _both(rt)
        _fill(rt, LARGE - SMALL)
        large_list, large_scrape = _both(rt)
    worst = max(large_list / small_list, large_scrape / small_scrape)
    return Result("goals list and /metrics at 10,000 goals", large_list + large_scrape, "ms",
                  small_list + small_scrape, worst, f"<= {TARGET:g} x the same at 10 goals",
                  worst <= TARGET,
                  f"(list {large_list:.2f} ms vs {small_list:.2f} ms; scrape {large_scrape:.2f} ms vs "
                  f"{small_scrape:.2f} ms; ratio is the worse of the two)")


if __name__ == "__main__":
    print(run().line())
