"""Events the team raises about itself (budget levels, blocked pipelines): recorded in Redis and logged."""

from __future__ import annotations

import logging

import redis

from marketing_team.domain.event import Event

log = logging.getLogger(__name__)

INTERNAL_EVENTS_KEY = "mt:events:internal"
# Newest first and bounded: the list is a recent-history feed (the event bus routes them), not an
# archive, so it must not grow without limit.
MAX_KEPT = 1000


def record_internal(client: redis.Redis, event: Event) -> None:
    """Record an internal event (newest first, bounded) and log it; the caller routes it to the bus."""
    with client.pipeline() as pipe:
        pipe.lpush(INTERNAL_EVENTS_KEY, event.model_dump_json())
        pipe.ltrim(INTERNAL_EVENTS_KEY, 0, MAX_KEPT - 1)
        pipe.execute()
    log.warning("internal event %s", event.type.value,
                extra={"event": event.type.value, "event_id": event.id,
                       "goal_id": event.data.get("goal_id"), "data": event.data})


def recent_internal(client: redis.Redis, limit: int = 100) -> list[Event]:
    """The newest recorded internal events, newest first."""
    raw = client.lrange(INTERNAL_EVENTS_KEY, 0, max(0, limit - 1))
    return [Event.model_validate_json(item) for item in raw]
