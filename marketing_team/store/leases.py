"""Leases in Redis: the right to run one revision of a task, held by one worker thread at a time."""

from __future__ import annotations

import os
import socket
import threading

import redis

from marketing_team.observability.processes import is_alive


def _key(task_id: str, revision: int) -> str:
    return f"mt:lease:{task_id}:{revision}"


def holder() -> str:
    """This thread's name as a lease holder: host, pid and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Leases:
    """Claim and release per-(task, revision) leases; a holder that died on this host is taken over.

    Elsewhere a lease expires after its ttl, which must end before the broker's visibility timeout
    redelivers the message.
    """

    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s

    def claim(self, task_id: str, revision: int) -> bool:
        """True when this thread now holds the lease (a second copy of a message must not run)."""
        key, me = _key(task_id, revision), holder()
        if self.client.set(key, me, nx=True, ex=self.ttl_s):
            return True
        raw = self.client.get(key)
        held_by = raw.decode() if isinstance(raw, bytes) else str(raw or "")
        host, _, rest = held_by.partition(":")
        pid = rest.partition(":")[0]
        if held_by == me or (host == socket.gethostname() and pid.isdigit() and not is_alive(int(pid))):
            self.client.set(key, me, ex=self.ttl_s)
            return True
        return False

    def release(self, task_id: str, revision: int) -> None:
        """Give the lease back once this run ended (done, failed, or handed to a retry)."""
        self.client.delete(_key(task_id, revision))


def alive_key(goal_id: str) -> str:
    """The heartbeat key a task refreshes before each model call of its goal."""
    return f"mt:goal:{goal_id}:alive"
