"""Whether a local process is alive, read from /proc (zombies count as dead)."""

from __future__ import annotations

from pathlib import Path


def is_alive(pid: int) -> bool:
    """Return True when pid is a running process (zombies count as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
