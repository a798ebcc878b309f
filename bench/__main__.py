"""`python -m bench`: every benchmark once, each against its own baseline; results to bench/results.md.

`python -m bench dispatch webhook` runs only those and prints their rows (results.md is left as the
last whole run wrote it).
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result

MODULES = ("goal_overhead", "dispatch", "critical_path", "io_concurrency", "webhook",
           "webhook_slow_clients", "learnings", "embedded_start", "goals_list", "peer_crewai")


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = cpu
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> int:
    """Run the benchmarks named on the command line (default: all)."""
    names = sys.argv[1:] or list(MODULES)
    results: list[Result] = []
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        produced: Result | list[Result] = module.run()
        for result in produced if isinstance(produced, list) else [produced]:
            print(result.line(), flush=True)
            results.append(result)
    total = time.perf_counter() - started
    lines = ["# Benchmark results", "", f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             f"- Machine: {machine()}", f"- Run time: {total:.0f} s (`python -m bench`)", "",
             "| Benchmark | Value | Baseline | Ratio | Target | Met |", "|---|---|---|---|---|---|"]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.name} | — | — | — | {r.target} | skipped: {r.skipped} |")
            continue
        base = f"{r.baseline:.4g} {r.unit}" if r.baseline is not None else "—"
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "—"
        lines.append(f"| {r.name} | {r.value:.4g} {r.unit} | {base} | {ratio} | {r.target} | "
                     f"{'yes' if r.met else 'no'} |")
    lines += ["", *[f"- {r.name}: {r.note}" for r in results if r.note], ""]
    if sys.argv[1:]:
        return 0  # a partial run prints its rows; results.md is the whole table, from a whole run
    (Path(__file__).parent / "results.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
