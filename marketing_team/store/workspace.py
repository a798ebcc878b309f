"""The workspace folder: where exports for people are written (atomically), and where the user's files live.

Nothing here is read back as state: goal folders, reviews, learnings and metrics are exports of
what Redis holds. The user's own `context/product.md` is the source the product context is sent from.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from marketing_team.domain.errors import InputError
from marketing_team.domain.values import check_id


def atomic_write(path: Path, text: str, durable: bool = True) -> None:
    """Write text so readers see the old file or the new one, never half of either.

    durable=False skips the fsync, for files that are rewritten on the next export anyway.
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


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace; every exported goal is a readable folder under goals/."""

    root: Path

    @property
    def context_file(self) -> Path:
        """The product context the user edits (sent to Redis by `mtctl init|context set|goal`)."""
        return self.root / "context" / "product.md"

    @property
    def goals_dir(self) -> Path:
        """Folder holding one exported folder per goal."""
        return self.root / "goals"

    @property
    def memory_dir(self) -> Path:
        """Exported learnings."""
        return self.root / "memory"

    @property
    def metrics_dir(self) -> Path:
        """Exported daily cost and run reports."""
        return self.root / "metrics"

    @property
    def reviews_dir(self) -> Path:
        """Exported human review items."""
        return self.root / "reviews"

    @property
    def state_dir(self) -> Path:
        """The embedded server's data, socket record and pidfile (not ours to read: the server's)."""
        return self.root / ".state"

    def goal_dir(self, goal_id: str) -> Path:
        """The exported folder of one goal; the id is checked so it cannot escape the workspace."""
        return self.goals_dir / check_id(goal_id, "goal id")

    def ensure(self) -> None:
        """Create the standard folders."""
        for folder in (self.goals_dir, self.memory_dir, self.metrics_dir, self.reviews_dir,
                       self.context_file.parent, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def read_context_file(self) -> str | None:
        """The user's context/product.md, or None when there is none."""
        try:
            return self.context_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.context_file}: not UTF-8 text (byte {exc.start}); save it as "
                             "UTF-8") from None
