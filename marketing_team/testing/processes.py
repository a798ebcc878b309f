"""Real processes for crash tests: workers and mtctl runs as subprocesses, plus polling helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], T | None], timeout_s: float = 30.0, what: str = "condition",
             every_s: float = 0.05) -> T:
    """Poll check until it returns something truthy, or raise TimeoutError naming what."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child: ours without product settings, plus extra, package importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MT_", "ANTHROPIC_", "REDIS_", "OPENAI_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    # Test servers keep nothing across a restart on purpose; a test of the refusal says "0".
    env["MT_ALLOW_VOLATILE_LEDGER"] = "1"
    env.update(extra)
    return env


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `python <args>` with output to log, in its own process group."""
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, *args], env=child_env(env), stdout=handle,
                            stderr=subprocess.STDOUT, start_new_session=True)


def spawn_worker(env: Mapping[str, str], log: Path, pool: str = "threads",
                 concurrency: int = 4, name: str | None = None) -> subprocess.Popen[bytes]:
    """A real `celery -A marketing_team worker` process (name: its node name, unique per worker)."""
    node = name or f"crash-{os.getpid()}"
    return spawn(["-m", "celery", "-A", "marketing_team", "worker", "--pool", pool,
                  "--concurrency", str(concurrency), "-Q", "skills,director", "-l", "WARNING",
                  "--without-mingle", "--without-gossip", "-n", f"{node}@%h"], env, log)


def children(pid: int) -> list[int]:
    """Direct child pids of pid (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
    """Signal the process group, reap it (SIGKILL if it lingers), then kill what outlived it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            proc.wait(5)
    # Children that outlived their parent (a worker whose supervisor was killed) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
