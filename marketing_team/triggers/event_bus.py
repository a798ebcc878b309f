"""The event bus: match mappings, test conditions, dedup by id and cool down in Redis, start pipelines."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from marketing_team.catalog.specs import Condition, EventMapping
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.runtime import Runtime
from marketing_team.domain.event import INTERNAL_EVENTS, Event, EventType
from marketing_team.triggers.starting import GoalStarter

log = logging.getLogger(__name__)
DEDUP_TTL_S = 7 * 24 * 3600  # a sender retrying the same event id within a week starts nothing new
GOAL_TEXT_LIMIT = 2000  # Goal.description's maximum
_MISSING = object()


class EventReason(StrEnum):
    """Why a mapping (or the whole event) started nothing."""

    NO_MAPPING = "no_mapping"
    DUPLICATE = "duplicate"
    CONDITION_FALSE = "condition_false"
    COOLDOWN = "cooldown"
    BUDGET_WARNING = "budget_warning"
    BUDGET_THROTTLE = "budget_throttle"
    BUDGET_CRITICAL = "budget_critical"
    BUDGET_EXHAUSTED = "budget_exhausted"


@dataclass(frozen=True)
class EventResult:
    """The goals one event started, or why it started none."""

    event_id: str
    goals: tuple[str, ...] = ()
    reasons: tuple[EventReason, ...] = field(default=())

    @property
    def reason(self) -> str | None:
        """None when a goal started; else the distinct reasons, comma-separated."""
        if self.goals:
            return None
        return ",".join(dict.fromkeys(r.value for r in self.reasons)) or None

    def as_json(self) -> dict[str, object]:
        """The webhook's 202 body and the task's result."""
        return {"event_id": self.event_id, "goals": list(self.goals), "reason": self.reason}


def _lookup(data: object, path: str) -> object:
    current = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # senders often send numbers as strings ("30")
        except ValueError:
            return None
    return None


def _equal(left: object, right: object) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None and not isinstance(left, str) and not isinstance(right, str):
        return a == b
    return left == right


def condition_holds(condition: Condition, data: Mapping[str, object]) -> bool:
    """Whether one data field (dotted path) passes the condition; a missing field fails it."""
    actual = _lookup(data, condition.field)
    if condition.op == "exists":
        return actual is not _MISSING and actual is not None
    if actual is _MISSING:
        return False
    if condition.op == "eq":
        return _equal(actual, condition.value)
    if condition.op == "neq":
        return not _equal(actual, condition.value)
    if condition.op == "contains":
        if isinstance(actual, str):
            return isinstance(condition.value, str) and condition.value in actual
        if isinstance(actual, list | dict):
            return condition.value in actual
        return False
    left, right = _number(actual), _number(condition.value)
    if left is None or right is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right,
            "lte": left <= right}[condition.op]


def mappings_for(mappings: tuple[EventMapping, ...], event_type: EventType) -> list[EventMapping]:
    """The mappings an event type triggers, in catalog order."""
    return [m for m in mappings if m.event == event_type]


def goal_text(mapping: EventMapping, event: Event, description: str) -> str:
    """The goal's text: what to run and why; the event's data travels on the goal, quoted."""
    return (f"Run the {mapping.pipeline} pipeline in response to a {event.type.value} event "
            f"(id {event.id}, source {event.source}). {description}")[:GOAL_TEXT_LIMIT]


def _seen_key(event_id: str) -> str:
    return f"mt:events:seen:{event_id}"


def claim_event(client: redis.Redis, event: Event) -> bool:
    """Take the event's id for the dedup window; False when it was seen already (a duplicate)."""
    return bool(client.set(_seen_key(event.id), event.type.value, nx=True, ex=DEDUP_TTL_S))


def release_event(client: redis.Redis, event_id: str) -> None:
    """Give the id back (nothing was started for it), so the sender's retry can work."""
    client.delete(_seen_key(event_id))


def _cooldown_key(mapping: EventMapping) -> str:
    return f"mt:events:cooldown:{mapping.event.value}:{mapping.pipeline}"


def _try_mapping(rt: Runtime, start: GoalStarter, mapping: EventMapping, event: Event,
                 claimed: list[str]) -> EventReason | str:
    """The started goal id, or the reason this mapping starts nothing."""
    if mapping.condition is not None and not condition_holds(mapping.condition, event.data):
        return EventReason.CONDITION_FALSE
    key = _cooldown_key(mapping)
    # SET NX EX is the atomic test-and-claim: two processes cannot both pass it. It comes before
    # the budget read so a burst of cooled-down events costs one round trip less each.
    if mapping.cooldown_s:
        if not rt.redis.set(key, event.id, nx=True, ex=mapping.cooldown_s):
            return EventReason.COOLDOWN
        claimed.append(key)
    allowed, level = rt.budget.allows(mapping.priority)
    if not allowed:
        if mapping.cooldown_s:
            rt.redis.delete(key)  # nothing started: the next event may try again
            claimed.remove(key)
        return EventReason(f"budget_{level}")
    spec = rt.catalog.pipeline(mapping.pipeline)
    text = goal_text(mapping, event, spec.description)
    goal = plan_pipeline(rt, mapping.pipeline, mapping.priority, source=f"event:{event.type.value}",
                         event=event,
                         description=text)
    return start(goal).id


def publish_event(rt: Runtime, event: Event, start: GoalStarter, *, claimed: bool = False) -> EventResult:
    """Run one event through the bus, starting goals with start.

    claimed: the caller (the web process) took the event's id already; otherwise it is taken here.
    """
    level = logging.WARNING if event.type in INTERNAL_EVENTS else logging.INFO
    log.log(level, "event received", extra={"event": "event_received", "event_id": event.id,
                                            "event_type": event.type.value, "source": event.source})
    mappings = mappings_for(rt.catalog.events, event.type)
    if not claimed and not claim_event(rt.redis, event):
        return _done(rt, EventResult(event.id, reasons=(EventReason.DUPLICATE,)), record=False)
    if not mappings:
        return _done(rt, EventResult(event.id, reasons=(EventReason.NO_MAPPING,)))
    goals: list[str] = []
    reasons: list[EventReason] = []
    taken: list[str] = [_seen_key(event.id)]
    try:
        for mapping in mappings:
            outcome = _try_mapping(rt, start, mapping, event, taken)
            if isinstance(outcome, EventReason):
                reasons.append(outcome)
            else:
                goals.append(outcome)
    except BaseException:
        if not goals:
            # Nothing started: release the claims so the sender's retry of this event can work.
            rt.redis.delete(*taken)
        raise
    return _done(rt, EventResult(event.id, goals=tuple(goals), reasons=tuple(reasons)))


def _result_key(event_id: str) -> str:
    return f"mt:events:result:{event_id}"


def _done(rt: Runtime, result: EventResult, record: bool = True) -> EventResult:
    log.info("event handled", extra={"event": "event_handled", "event_id": result.event_id,
                                     "goals": list(result.goals), "reason": result.reason})
    if record:  # what became of the event, for whoever sent it (kept as long as its dedup claim)
        rt.redis.set(_result_key(result.event_id), json.dumps(result.as_json()), ex=DEDUP_TTL_S)
    return result


def event_result(client: redis.Redis, event_id: str) -> dict[str, Any] | None:
    """What a handled event started (`{"event_id", "goals", "reason"}`), or None until handled."""
    raw = client.get(_result_key(event_id))
    if raw is None:
        return None
    found: dict[str, Any] = json.loads(raw)
    return found
