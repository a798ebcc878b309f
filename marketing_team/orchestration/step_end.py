"""Leases a task gives back when it ends, sent with its metrics in one round trip.

A skill or review step holds a lease while it runs. Releasing it as the body returns cost a round
trip of its own, just before Celery publishes what comes next (the chained review, the next
step), so it sat on every step's critical path. The body hands its lease here instead; the
task's postrun observer sends the releases with the run's metrics, after Celery has published
and stored the result. Until then the lease only makes a second copy of the same step wait
("busy"), which is what it is for. If no postrun comes (the worker died), the lease lapses after
MT_HEARTBEAT_TIMEOUT as any dead holder's does, and the sweeper's takeover finds the step done.

A task called as a plain function (`app.tasks[name](...)`, no worker) has no postrun: its
`TeamTask.__call__` sends the releases itself as the call returns (`release_pending`), or its
lease would stay held, and renewed by this live process's heartbeat, for as long as it runs.
"""

from __future__ import annotations

import logging
import threading

import redis

from marketing_team.director.runtime import Runtime
from marketing_team.store.batch import Batch
from marketing_team.store.leases import Lease

log = logging.getLogger(__name__)
_local = threading.local()  # Celery runs a task's body and its postrun on the same thread


def release_at_end(rt: Runtime, lease: Lease | None) -> None:
    """Give the lease back when this thread's task ends (see the module docstring)."""
    if lease is not None:
        pending(rt).append(lease)


def pending(rt: Runtime) -> list[Lease]:
    """This thread's leases waiting for their task's end (on rt's server)."""
    held: dict[int, list[Lease]] = _local.__dict__.setdefault("held", {})
    return held.setdefault(id(rt), [])


def queue_releases(rt: Runtime, batch: Batch) -> None:
    """Queue the release of every lease waiting on this thread on batch (sent by the caller)."""
    waiting = pending(rt)
    for lease in waiting:
        rt.leases.queue_release(batch, lease)
    waiting.clear()


def release_pending(rt: Runtime) -> None:
    """Send the release of every lease waiting on this thread now, in one round trip."""
    if not pending(rt):
        return
    batch = Batch(rt.redis)
    queue_releases(rt, batch)
    try:
        batch.execute()
    except redis.RedisError as exc:  # they lapse instead
        log.warning("lease release not sent", extra={"event": "lease_release_failed",
                                                     "error": type(exc).__name__})
