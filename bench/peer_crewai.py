"""The peer row: the same two workloads on CrewAI against the same HTTP fake, when CrewAI is
importable (it is not a dependency of this project; install it beside to compare)."""

from __future__ import annotations

import importlib.util

from bench.common import Result


def run() -> Result:
    """Skipped with its reason unless `crewai` can be imported."""
    if importlib.util.find_spec("crewai") is None:
        return Result("peer: CrewAI, same workloads", 0.0, "s", None, None, "side by side", False,
                      skipped="crewai is not installed here (pip install crewai to compare)")
    # A comparison needs CrewAI wired to the fake's base URL as an LLM; not written yet.
    return Result("peer: CrewAI, same workloads", 0.0, "s", None, None, "side by side", False,
                  skipped="crewai is installed but the side-by-side runner is not written yet")


if __name__ == "__main__":
    print(run().line())
