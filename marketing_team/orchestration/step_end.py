"""Leases a task gives back when it ends, sent with its metrics in one round trip.

A skill or review step holds a lease while it runs. Releasing it as the body returns cost a round
trip of its own, just before Celery publishes what comes next (the chained review, the next
step), so it sat on every step's critical path. The body hands its lease here instead; the
task's postrun observer sends the releases with the run's metrics, after Celery has published
and stored the result. Until then the lease only makes a second copy of the same step wait
("busy"), which is what it is for. If no postrun comes (the worker died), the lease lapses after
MT_HEARTBEAT_TIMEOUT as any dead holder's does, and the sweeper's takeover finds the step done.
"""

from __future__ import annotations

import threading

from marketing_team.director.runtime import Runtime
from marketing_team.store.batch import Batch
from marketing_team.store.leases import Lease

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
