"""The peer row: the critical-path workloads on CrewAI, against the same HTTP fake, when CrewAI is
importable (it is not a dependency of this project; install it beside to compare).

The same model process as the critical-path rows (0.5 s per call, composed inside its latency,
in a process of its own), answering in the form a CrewAI agent parses as final. CrewAI's agents
make one call per task, as our P3 steps do, so its figures sit beside our P3 rows:
- 5 tasks in order (a sequential crew): 5 calls in a row;
- 4 tasks at once, then a task that joins them (`async_execution` and `context`): CrewAI's join
  is a task of its own, with a call, so its critical path is 2 calls where ours is 1.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import statistics
import time
from typing import Any

from bench.common import Result
from bench.critical_path import LATENCY_S, PARALLEL, ROUNDS, SEQUENTIAL
from bench.model_process import RemoteModel, http_model

NAME = "peer: CrewAI, same workloads"


def _quiet() -> None:
    # No telemetry or tracing: this machine has no way out, and a benchmark must not phone home.
    for name, value in (("CREWAI_DISABLE_TELEMETRY", "true"), ("OTEL_SDK_DISABLED", "true"),
                        ("CREWAI_TRACING_ENABLED", "false")):
        os.environ.setdefault(name, value)
    logging.getLogger("crewai").setLevel(logging.ERROR)  # a token-count warning on every call


def _crew(url: str, parallel: bool) -> Any:
    from crewai import LLM, Agent, Crew, Process, Task

    llm = LLM(model="anthropic/claude-sonnet-4-5", base_url=url, api_key="sk-bench", max_tokens=4096)
    skills = PARALLEL if parallel else SEQUENTIAL

    def agent(role: str) -> Any:
        return Agent(role=role, goal=f"Produce the {role} deliverable", backstory="A specialist.",
                     llm=llm, verbose=False, allow_delegation=False)

    tasks = [Task(description=f"Produce the {skill} deliverable for the goal.",
                  expected_output=f"The {skill} deliverable", agent=agent(skill),
                  async_execution=parallel) for skill in skills]
    if parallel:
        tasks.append(Task(description="Join the deliverables into one plan.",
                          expected_output="The joined plan", agent=agent("director"), context=list(tasks)))
    agents = [task.agent for task in tasks]
    return Crew(agents=agents, tasks=tasks, process=Process.sequential, verbose=False)


def _wall(model: RemoteModel, parallel: bool) -> float:
    crew = _crew(model.url, parallel)  # built before the clock starts, as our goals are planned before
    before = model.request_count()
    started = time.perf_counter()
    crew.kickoff()
    wall = time.perf_counter() - started
    calls = model.request_count() - before
    if calls != len(crew.tasks):  # a retried or re-prompted call would make it another workload
        raise RuntimeError(f"CrewAI made {calls} model calls for {len(crew.tasks)} tasks")
    return wall


def run() -> Result:
    """CrewAI's two workloads, side by side in one row (skipped unless `crewai` imports)."""
    if importlib.util.find_spec("crewai") is None:
        return Result(NAME, 0.0, "s", None, None, "side by side", False,
                      skipped="crewai is not installed here (pip install crewai to compare)")
    _quiet()
    figures: dict[str, tuple[float, float]] = {}
    with http_model(LATENCY_S, final_answer=True) as model:
        _wall(model, parallel=True)  # warm up the SDK, pools and CrewAI's own caches
        for label, parallel, calls in (("5 in order", False, len(SEQUENTIAL)), ("4 at once + join", True, 2)):
            wall = statistics.median(_wall(model, parallel) for _ in range(ROUNDS))
            figures[label] = (wall, calls * LATENCY_S)
    (seq_wall, seq_path), (par_wall, par_path) = figures["5 in order"], figures["4 at once + join"]
    note = ("(CrewAI, one call per task as our P3 steps; median of "
            f"{ROUNDS}: 5 in order x{seq_wall / seq_path:.3f}, {(seq_wall - seq_path) * 1000:.0f} ms "
            f"of its own; 4 at once + join x{par_wall / par_path:.3f}, "
            f"{(par_wall - par_path) * 1000:.0f} ms of its own, its join a call of its own; "
            "compare with the P3 rows)")
    return Result(NAME, seq_wall, "s", seq_path, seq_wall / seq_path, "side by side", True, note)


if __name__ == "__main__":
    print(run().line())
