"""Embedded start: from nothing to the first skill task approved on a private server and worker."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Result
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.goal import TaskStatus
from marketing_team.ops.run_mode import RunMode
from marketing_team.orchestration import dispatch
from marketing_team.testing.processes import wait_for

TARGET_S = 2.0


def run() -> Result:
    """Start the embedded run mode (offline provider), publish a goal, stop at its first approval."""
    workspace = Path(tempfile.mkdtemp(prefix="mt-bench-embedded-"))
    settings = load_settings(_env_file=None, workspace_dir=workspace)
    started = time.perf_counter()
    with RunMode(settings) as mode:
        rt, app = mode.runtime, mode.app
        assert rt is not None and app is not None  # set by start
        ready = time.perf_counter() - started
        goal = plan_pipeline(rt, "SEO Cycle")
        rt.goals.create(goal)
        dispatch.start(app, rt, goal.id)
        wait_for(lambda: rt.goals.load(goal.id).tasks[0].status is TaskStatus.APPROVED, 30,
                 "the first task", every_s=0.002)
        first = time.perf_counter() - started
    return Result("embedded start to first task", first, "s", ready, None, f"< {TARGET_S:g} s",
                  first < TARGET_S, f"(server + app + worker ready in {ready:.2f} s)")


if __name__ == "__main__":
    print(run().line())
