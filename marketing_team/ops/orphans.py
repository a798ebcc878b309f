"""Children that never outlive `mtctl up`: a parent-death signal set before exec, and a pidfile of
the children so the next start stops any that survived anyway."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from marketing_team.observability.processes import is_alive, start_time
from marketing_team.store.workspace import atomic_write

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
REAP_GRACE_S = 5.0


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Looked up once in the parent: the child between fork and exec should do as little as possible.
_PRCTL = _load_prctl()


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """A Popen preexec_fn that has the kernel send sig to the child when this process dies.

    Without it a SIGKILLed `mtctl up` leaves its worker, beat and gunicorn running: the next
    start then runs two workers under one node name and a web that cannot bind. None where the
    kernel offers no such signal (not Linux): the pidfile reaping is then the only guard.
    """
    if _PRCTL is None:
        return None
    prctl, parent = _PRCTL, os.getpid()

    def preexec() -> None:
        """Runs in the child after fork, before exec; never raises (Popen would fail the start)."""
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died between fork and prctl: the signal would then never come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


@dataclass(frozen=True)
class Recorded:
    """One process in the pidfile: a child's name (or `supervisor`), its pid and start time."""

    name: str
    pid: int
    started: int

    def alive(self) -> bool:
        """True while the very process recorded runs (a recycled pid does not count)."""
        return is_alive(self.pid) and start_time(self.pid) == self.started


def record_children(pidfile: Path, children: Iterable[tuple[str, int]]) -> None:
    """Rewrite the pidfile: this supervisor first, then each running child."""
    lines = [f"supervisor {os.getpid()} {start_time(os.getpid()) or 0}"]
    for name, pid in children:
        lines.append(f"{name} {pid} {start_time(pid) or 0}")
    atomic_write(pidfile, "\n".join(lines) + "\n")


def read_pidfile(pidfile: Path) -> list[Recorded]:
    """The processes a pidfile records; unreadable lines are skipped (it is only a hint)."""
    try:
        text = pidfile.read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        fields = line.split()
        with contextlib.suppress(ValueError, IndexError):
            found.append(Recorded(fields[0], int(fields[1]), int(fields[2])))
    return found


def reap_leftovers(pidfile: Path, grace_s: float = REAP_GRACE_S) -> list[int]:
    """Stop the children an earlier, dead supervisor recorded; returns the pids stopped.

    A pidfile whose supervisor still runs is left alone: that is a live `mtctl up`, which the
    duplicate node name check refuses to run beside.
    """
    records = read_pidfile(pidfile)
    owner = next((r for r in records if r.name == "supervisor"), None)
    if owner is not None and owner.pid != os.getpid() and owner.alive():
        return []
    leftovers = [r for r in records if r.name != "supervisor" and r.alive()]
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        for proc in leftovers:
            if proc.alive():
                log.warning("stopping %s (pid %d) left by an earlier `mtctl up`", proc.name, proc.pid,
                            extra={"event": "orphan_stopped", "child": proc.name, "pid": proc.pid})
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
        deadline = time.monotonic() + wait_s
        while any(p.alive() for p in leftovers) and time.monotonic() < deadline:
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)
    return [p.pid for p in leftovers]


__all__ = ["Recorded", "die_with_parent", "read_pidfile", "reap_leftovers", "record_children",
           "start_time"]
