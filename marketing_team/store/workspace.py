"""The workspace directory: layout, atomic writes and per-goal locks that hold across processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from marketing_team.domain.errors import LockTimeoutError
from marketing_team.domain.values import check_id


def atomic_write(path: Path, text: str, durable: bool = True) -> None:
    """Write text so readers see the old file or the new one, never half of either.

    durable=False skips the fsync, for files derived from others (rebuilt on the next save).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float = 30.0) -> Iterator[None]:
    """An exclusive flock on path; safe across processes and across threads of one process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeoutError(f"could not lock {path} within {timeout_s:.0f} s") from None
                time.sleep(0.001)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace; every goal is a readable folder under goals/."""

    root: Path

    @property
    def context_file(self) -> Path:
        """The product context every skill reads."""
        return self.root / "context" / "product.md"

    @property
    def goals_dir(self) -> Path:
        """Folder holding one folder per goal."""
        return self.root / "goals"

    @property
    def memory_dir(self) -> Path:
        """Learnings live here."""
        return self.root / "memory"

    @property
    def metrics_dir(self) -> Path:
        """Daily cost and run reports."""
        return self.root / "metrics"

    @property
    def reviews_dir(self) -> Path:
        """Human review items."""
        return self.root / "reviews"

    @property
    def state_dir(self) -> Path:
        """Process state: locks and the embedded server's pidfile."""
        return self.root / ".state"

    def goal_dir(self, goal_id: str) -> Path:
        """The folder of one goal; the id is checked so it cannot escape the workspace."""
        return self.goals_dir / check_id(goal_id, "goal id")

    def goal_lock(self, goal_id: str) -> contextlib.AbstractContextManager[None]:
        """The lock every read-modify-write of a goal's state takes."""
        return file_lock(self.goal_dir(goal_id) / ".lock")

    def ensure(self) -> None:
        """Create the standard folders."""
        for folder in (self.goals_dir, self.memory_dir, self.metrics_dir, self.reviews_dir,
                       self.context_file.parent, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def read_context(self) -> str:
        """The product context text, or an empty string when none was written yet."""
        try:
            return self.context_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""
