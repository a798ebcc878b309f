"""Events the team raises about itself (budget levels, blocked pipelines): recorded in Redis and logged."""

from __future__ import annotations

import logging

from marketing_team.domain import Event
from marketing_team.runtime import Runtime

log = logging.getLogger(__name__)

INTERNAL_EVENTS_KEY = "mt:events:internal"
# Newest first and bounded: the list is a recent-history feed (the event bus routes them), not an
# archive, so it must not grow without limit.
MAX_KEPT = 1000


def emit_internal(rt: Runtime, event: Event) -> None:
    """Record an internal event (newest first, bounded), log it, and route it through the bus."""
    with rt.redis.pipeline() as pipe:
        pipe.lpush(INTERNAL_EVENTS_KEY, event.model_dump_json())
        pipe.ltrim(INTERNAL_EVENTS_KEY, 0, MAX_KEPT - 1)
        pipe.execute()
    log.warning("internal event %s", event.type.value,
                extra={"event": event.type.value, "event_id": event.id,
                       "goal_id": event.data.get("goal_id"), "data": event.data})
    # The same bus as outside events, so a user's events.yaml may map them (imported here: the
    # bus starts goals, which reach the budget, which emits these).
    from marketing_team.events import publish_event

    if any(m.event == event.type for m in rt.catalog.events):
        publish_event(rt, None, event)


def recent_internal(rt: Runtime, limit: int = 100) -> list[Event]:
    """The newest recorded internal events, newest first."""
    raw = rt.redis.lrange(INTERNAL_EVENTS_KEY, 0, max(0, limit - 1))
    return [Event.model_validate_json(item) for item in raw]
