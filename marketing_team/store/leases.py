"""Leases in Redis: the right to run one step of a task, kept alive by its holder's heartbeat.

Temporal-style liveness: while a skill or review runs, a keeper thread in its process renews its
lease every third of MT_HEARTBEAT_TIMEOUT. A lease whose holder stopped renewing (a SIGKILLed
worker, a lost machine) lapses after the timeout and another worker takes it over and republishes
the task. All times are the server's clock, so machines with skewed clocks agree.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import redis

from marketing_team.observability.processes import is_alive
from marketing_team.store.batch import Batch, Rider, ride

log = logging.getLogger(__name__)
DUE = "mt:leases:due"  # lease key -> when it lapses unless renewed (server time, seconds)
Kind = Literal["skill", "review"]

# KEYS: lease hash, due zset. ARGV: timeout, then field/value pairs. Take the lease if free.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = tonumber(redis.call('TIME')[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), KEYS[1])
return 1
"""
# KEYS: lease hash, due zset. ARGV: token, timeout. Push the lapse time on while we hold it.
_RENEW = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[1])
return 1
"""
# KEYS: lease hash, due zset. ARGV: token. Give it back (only the holder can).
_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], KEYS[1])
return 1
"""
# KEYS: lease hash, due zset. ARGV: token seen, new token, holder, space, timeout. Take over a
# lapsed lease (one taker wins) and hold it while the step is republished: a taker that dies
# before republishing lets it lapse again, so the next sweep takes it over in turn.
_TAKE_OVER = """
local due = redis.call('ZSCORE', KEYS[2], KEYS[1])
local now = tonumber(redis.call('TIME')[1])
if not due or tonumber(due) > now then return 0 end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'holder', ARGV[3], 'space', ARGV[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), KEYS[1])
return 1
"""
# ARGV: limit. Lapsed lease keys, oldest first.
_LAPSED = """
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
"""


def lease_key(kind: Kind, task_id: str, revision: int) -> str:
    """Where the lease of one step (a skill's draft or its review, per revision) is kept."""
    return f"mt:lease:{kind}:{task_id}:{revision}"


def holder() -> str:
    """This thread's name as a lease holder: host, pid and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@functools.cache  # fixed for a process's life (a forked child shares its parent's namespace)
def pid_space() -> str:
    """Where this process's pids mean something: the kernel's boot and its pid namespace.

    A lease held by a pid of the same space can be checked at once: a prefork pool child killed
    by the OOM killer frees its lease here without waiting for MT_HEARTBEAT_TIMEOUT.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""  # not Linux: never judged locally, the heartbeat decides


def _dead_here(data: dict[str, str]) -> bool:
    """True when the lease's holder is a process of this pid space that no longer runs."""
    space = pid_space()
    parts = data.get("holder", "").split(":")
    if not space or data.get("space") != space or len(parts) < 2 or not parts[1].isdigit():
        return False
    return not is_alive(int(parts[1]))


@dataclass(frozen=True)
class Lease:
    """A lease held: what it is for, and the token that proves we hold it."""

    key: str
    token: str
    goal_id: str
    task_id: str
    run: int
    kind: Kind
    revision: int


def _text(raw: bytes | str | None) -> str:
    return "" if raw is None else raw.decode() if isinstance(raw, bytes) else raw


class Leases:
    """Claim, renew, release and take over leases on the team's server."""

    def __init__(self, client: redis.Redis, timeout_s: int) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._take_over = client.register_script(_TAKE_OVER)
        self._lapsed = client.register_script(_LAPSED)

    def claim(self, kind: Kind, goal_id: str, task_id: str, revision: int, run: int) -> Lease | None:
        """The lease for this step, or None while another live holder has it; kept alive until released."""
        return self.claim_with(None, kind, goal_id, task_id, revision, run)[0]

    def claim_with(self, rider: Rider | None, kind: Kind,
                   goal_id: str, task_id: str, revision: int,
                   run: int) -> tuple[Lease | None, list[Any]]:
        """claim, with the rider's commands (reads the step will need) sent first in the same
        round trip: (the lease or None, their answers)."""
        lease = Lease(lease_key(kind, task_id, revision), uuid.uuid4().hex, goal_id, task_id, run,
                      kind, revision)
        fields = {"token": lease.token, "goal_id": goal_id, "task_id": task_id, "run": str(run),
                  "kind": kind, "revision": str(revision), "holder": holder(), "space": pid_space()}
        pairs = [item for pair in fields.items() for item in pair]
        carried, took = ride(self.client, rider, self._claim, [lease.key, DUE], [self.timeout_s, *pairs])
        if not took:
            if not self._free_if_dead(lease.key):
                return None, carried
            if not self._claim(keys=[lease.key, DUE], args=[self.timeout_s, *pairs]):
                return None, carried  # someone else took the freed lease first
        keeper(self).hold(lease)
        return lease, carried

    def _free_if_dead(self, key: str) -> bool:
        """Free a lease whose holder died on this machine (its token unchanged); True when freed."""
        data = {_text(k): _text(v) for k, v in self.client.hgetall(key).items()}
        if not data or not _dead_here(data):
            return False
        log.warning("lease of a dead process freed", extra={
            "event": "lease_freed", "goal_id": data.get("goal_id"), "task_id": data.get("task_id"),
            "holder": data.get("holder")})
        return bool(self._release(keys=[key, DUE], args=[data.get("token", "")]))

    def renew(self, lease: Lease) -> bool:
        """Push the lease's lapse time on; False when it was taken over (we lost it)."""
        return bool(self._renew(keys=[lease.key, DUE], args=[lease.token, self.timeout_s]))

    def release(self, lease: Lease) -> None:
        """Give the lease back once the step ended (done, failed, or handed to a retry)."""
        keeper(self).drop(lease)
        self._release(keys=[lease.key, DUE], args=[lease.token])

    def queue_release(self, batch: Batch, lease: Lease) -> None:
        """release, queued on a caller's batch (it happens when the batch is sent)."""
        keeper(self).drop(lease)
        batch.script(self._release, [lease.key, DUE], [lease.token])

    def lapsed(self, limit: int = 50) -> list[Lease]:
        """Leases whose holder stopped renewing them (oldest first), as they were held."""
        found = []
        for raw in self._lapsed(keys=[DUE], args=[limit]):
            key = _text(raw)
            data = {_text(k): _text(v) for k, v in self.client.hgetall(key).items()}
            if not data:  # released between the two reads: drop its stale entry
                self.client.zrem(DUE, key)
                continue
            kind: Kind = "review" if data.get("kind") == "review" else "skill"
            run, revision = data.get("run") or "0", data.get("revision") or "0"
            if not (run.isdigit() and revision.isdigit() and data.get("token")):
                # Not a lease we wrote: drop it rather than stop every sweep on it
                log.warning(f"dropped a malformed lease {key[:120]!r}", extra={"event": "lease_malformed"})
                self.client.delete(key)
                self.client.zrem(DUE, key)
                continue
            found.append(Lease(key, data["token"], data.get("goal_id", ""),
                               data.get("task_id", ""), int(run), kind, int(revision)))
        return found

    def take_over(self, lease: Lease) -> Lease | None:
        """Take a lapsed lease from its silent holder: the taker's lease (one taker wins), else None.

        The taker holds it (renewed by this process) until it released it after republishing.
        """
        taken = Lease(lease.key, uuid.uuid4().hex, lease.goal_id, lease.task_id, lease.run,
                      lease.kind, lease.revision)
        if not self._take_over(keys=[lease.key, DUE],
                               args=[lease.token, taken.token, holder(), pid_space(), self.timeout_s]):
            return None
        keeper(self).hold(taken)
        return taken

    def alive(self, kind: Kind, task_id: str, revision: int) -> bool:
        """True while someone holds this step's lease and renews it."""
        return bool(self.client.exists(lease_key(kind, task_id, revision)))


class LeaseKeeper:
    """One thread per process that renews every lease this process holds (its heartbeat)."""

    def __init__(self, leases: Leases) -> None:
        self.leases = leases
        self.held: dict[str, Lease] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="mt-lease-keeper", daemon=True)
        self.thread.start()

    def hold(self, lease: Lease) -> None:
        """Renew this lease until it is dropped."""
        with self.lock:
            self.held[lease.key] = lease

    def drop(self, lease: Lease) -> None:
        """Stop renewing this lease."""
        with self.lock:
            self.held.pop(lease.key, None)

    def _loop(self) -> None:
        interval = max(0.5, self.leases.timeout_s / 3)
        while not self.wake.wait(interval):
            with self.lock:
                current = list(self.held.values())
            self.beat(current)

    def beat(self, current: list[Lease]) -> None:
        """Renew the leases held when the beat began; say which were lost (not merely released)."""
        for lease in current:
            try:
                if self.leases.renew(lease):
                    continue
            except redis.RedisError as exc:  # the next beat tries again
                log.warning("lease renewal failed", extra={"event": "lease_renewal_failed",
                                                           "error": type(exc).__name__})
                continue
            with self.lock:
                # A step that ended since the beat began released its lease: nothing was lost.
                lost = self.held.get(lease.key) is lease
                if lost:
                    del self.held[lease.key]
            if lost:
                log.warning("lease taken over", extra={"event": "lease_lost", "goal_id": lease.goal_id,
                                                       "task_id": lease.task_id})


_keepers: dict[tuple[int, str, int], LeaseKeeper] = {}
_keepers_lock = threading.Lock()


def keeper(leases: Leases) -> LeaseKeeper:
    """This process's keeper for the server and timeout of leases (started on first use)."""
    args = leases.client.connection_pool.connection_kwargs
    where = (os.getpid(), f"{args.get('host')}:{args.get('port')}:{args.get('path')}", leases.timeout_s)
    with _keepers_lock:
        found = _keepers.get(where)
        if found is None:  # first lease of this process (a forked child gets its own)
            found = _keepers[where] = LeaseKeeper(leases)
        return found
