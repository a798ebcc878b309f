"""Beat on celery-redbeat: entries seeded from the catalog, one firer under many beats, a heartbeat key."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from typing import Any

import redis
from celery import Celery
from redbeat import RedBeatScheduler, RedBeatSchedulerEntry
from redbeat.schedulers import get_redis

from marketing_team.catalog.loader import load_catalog
from marketing_team.config.settings import load_settings
from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.orchestration.beat_schedule import SWEEP_ENTRY, beat_schedule, sweep_entry

HEARTBEAT_KEY = "mt:beat:heartbeat"
# Longer than beat's longest sleep (beat_max_loop_interval 5 s) by a wide margin, so a live beat
# never looks dead, while a dead one disappears within a minute.
HEARTBEAT_TTL_S = 60
# A beat sleeps at most beat_max_loop_interval (5 s) between ticks: three missed ticks is stale.
BEAT_STALE_S = 15.0


def seed(app: Celery, entries: tuple[ScheduleEntry, ...]) -> list[str]:
    """Store one redbeat entry per schedule (keeping each entry's last run); returns their keys."""
    keys = []
    for name, spec in beat_schedule(entries).items():
        entry = RedBeatSchedulerEntry(name, spec["task"], spec["schedule"], args=spec["args"],
                                      options=spec["options"], app=app)
        key = entry.key
        with contextlib.suppress(KeyError):  # KeyError: a new schedule, it never ran
            entry.last_run_at = RedBeatSchedulerEntry.from_key(key, app=app).last_run_at
        entry.save()
        keys.append(key)
    return keys


def write_heartbeat(client: redis.Redis, now: float | None = None) -> None:
    """Record that a beat holding the lock is ticking (read by /health and `mtctl health`)."""
    payload = {"at": time.time() if now is None else now, "pid": os.getpid(),
               "host": socket.gethostname()}
    client.set(HEARTBEAT_KEY, json.dumps(payload), ex=HEARTBEAT_TTL_S)


def heartbeat_age(client: redis.Redis, now: float | None = None) -> float | None:
    """Seconds since the firing beat last ticked, or None when no beat ticked within the TTL."""
    raw = client.get(HEARTBEAT_KEY)
    if raw is None:
        return None
    at = float(json.loads(raw)["at"])
    return max(0.0, (time.time() if now is None else now) - at)


class Scheduler(RedBeatScheduler):  # type: ignore[misc]
    """`celery -A marketing_team beat -S marketing_team.orchestration.beat:Scheduler`: redbeat, seeded, heartbeating."""

    def setup_schedule(self) -> None:
        """Seed from the merged catalog; redbeat drops entries of schedules removed from it."""
        settings = load_settings()
        catalog = load_catalog(settings.catalog_dir)
        # redbeat stores beat_schedule as its static entries and keeps each one's last run.
        schedule = beat_schedule(catalog.schedules)
        schedule[SWEEP_ENTRY] = sweep_entry()
        self.app.conf.beat_schedule = schedule
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One redbeat tick (only the lock holder ticks), then the heartbeat."""
        interval: float = super().tick(*args, **kwargs)
        write_heartbeat(get_redis(self.app))
        return interval


__all__ = ["HEARTBEAT_KEY", "Scheduler", "heartbeat_age", "seed", "write_heartbeat"]
