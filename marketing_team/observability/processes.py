"""Whether a local process is alive, read from /proc (zombies count as dead)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import threading
from pathlib import Path


def is_alive(pid: int) -> bool:
    """Return True when pid is a running process (zombies count as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc), or None when it is gone.

    A pid with the recorded start time is the recorded process, not a recycled pid.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of stat; fields here start at field 3
    except (OSError, IndexError, ValueError):
        return None


def _shared_event() -> threading.Event | multiprocessing.synchronize.Event:
    """An event that processes forked from this one share: a prefork pool forks its children when
    it starts, long before the parent's SweeperStep.stop says the worker is stopping, and the
    children are the ones running tasks. Made at import, so before any fork."""
    try:
        return multiprocessing.get_context("fork").Event()
    except (ImportError, OSError, ValueError):  # no shared semaphores here: this process only
        return threading.Event()


_stopping = _shared_event()


def set_stopping(stopping: bool) -> None:
    """Say that this process's worker is stopping (or runs again): waits for a lost server end,
    here and in the pool children it forked."""
    if stopping:
        _stopping.set()
    else:
        _stopping.clear()


def wait_stopping(timeout_s: float) -> bool:
    """Wait up to timeout_s for this process's worker to begin stopping; True once it has."""
    return bool(_stopping.wait(timeout_s))
