"""One embedded server per workspace, shared by every command that needs it; the last one out stops it.

Commands register under a lock in the state dir (`users/<pid>`): the first starts the server,
later ones use it, each leaves when it ends, and whoever leaves last stops the server. A command
killed with SIGKILL leaves a stale registration; the next command to join or leave drops it, and
a server every user of which died is adopted (or reaped) by the next command. The lock is a local
`flock`: the embedded server is local by definition (a unix socket in /tmp).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from marketing_team.observability.processes import is_alive, start_time
from marketing_team.ops.embedded import EmbeddedServer

LOCK_NAME = "server.lock"
USERS_DIR = "users"


class SharedServer:
    """This process's share of the workspace's embedded server (start() joins, stop() leaves)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.server = EmbeddedServer(state_dir, appendonly=True, reuse=True, shared=True)
        self._me = self.state_dir / USERS_DIR / str(os.getpid())
        self._joined = False

    @property
    def broker_url(self) -> str:
        """The Celery/kombu URL of the shared server."""
        return self.server.broker_url

    def start(self) -> str:
        """Join: start the server if no live command runs it, else use the running one."""
        if self._joined:
            return self.broker_url
        with self._locked():
            self._prune()
            self._me.parent.mkdir(exist_ok=True)
            # With its start time: a pid recycled after a reboot is not this command.
            self._me.write_text(str(start_time(os.getpid()) or 0))
            try:
                self.server.start()
            except BaseException:
                self._me.unlink(missing_ok=True)
                raise
            # Whoever leaves last stops the server, not whoever started it: the hook the server
            # registered for its starter is replaced by this share's.
            atexit.unregister(self.server.stop)
            atexit.register(self.stop)
            self._joined = True
        return self.broker_url

    def stop(self) -> None:
        """Leave; the last command out stops the server. Safe to call twice."""
        atexit.unregister(self.stop)
        if not self._joined:
            return
        with self._locked():
            self._me.unlink(missing_ok=True)
            self._joined = False
            if self._prune():
                self.server.detach()  # others still use it
            else:
                self.server.stop()

    def __enter__(self) -> SharedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _prune(self) -> int:
        """Drop registrations of dead commands; return how many live ones remain."""
        users = self.state_dir / USERS_DIR
        live = 0
        for entry in users.iterdir() if users.is_dir() else ():
            if entry.name.isdigit() and _same_process(int(entry.name), entry):
                live += 1
            else:
                entry.unlink(missing_ok=True)
        return live

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # An OSError here names the path (WORKSPACE_DIR a file, read-only, full): the CLI's edge
        # turns it into one line naming it and the setting.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.state_dir / LOCK_NAME).open("a")
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _same_process(pid: int, entry: Path) -> bool:
    """True when pid is alive and started when its registration says (not a recycled pid)."""
    try:
        recorded = int(entry.read_text().strip() or "0")
    except (OSError, ValueError):
        return False
    return is_alive(pid) and recorded == (start_time(pid) or -1)


__all__ = ["SharedServer"]
