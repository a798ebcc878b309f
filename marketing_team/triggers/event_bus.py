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
from marketing_team.domain.goal import GoalStatus
from marketing_team.triggers import cooldown
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
    cooldowns: tuple[cooldown.Cooldown, ...] = field(default=())

    @property
    def reason(self) -> str | None:
        """None when a goal started; else the distinct reasons, comma-separated."""
        if self.goals:
            return None
        return ",".join(dict.fromkeys(r.value for r in self.reasons)) or None

    @property
    def explained(self) -> str:
        """For people: the goals started, or why none, with each cooldown's time left."""
        if self.goals:
            return f"started {', '.join(self.goals)}"
        details = "; ".join(str(c) for c in self.cooldowns)
        return f"no goal ({self.reason}{': ' + details if details else ''})"

    def as_json(self) -> dict[str, object]:
        """The webhook's 202 body and the task's result."""
        return {"event_id": self.event_id, "goals": list(self.goals), "reason": self.reason,
                "cooldowns": [c.as_json() for c in self.cooldowns]}


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


# KEYS: the claim. ARGV: owner, ttl. Take the claim, or keep it when the owner already holds it.
_HELD = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
"""
_TAKE = "redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))\nreturn 1\n"
_CLAIM = _HELD + _TAKE
# KEYS: the claim, a list. ARGV: owner, ttl, an entry. Push the entry (the message that will
# handle the event), then take the claim. A script is not rolled back when a command in it fails,
# so the push comes first: if it fails, nothing was written (the sender's retry is not refused as
# a duplicate); SET cannot fail on a key's type, and a message queued without the web's claim is
# still handled (its worker takes the claim itself).
_CLAIM_AND_PUSH = _HELD + "redis.call('LPUSH', KEYS[2], ARGV[3])\n" + _TAKE
# KEYS: the claim. ARGV: owner. Give it back, only if still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


def claim_event(client: redis.Redis, event_id: str, owner: str, ttl_s: int = DEDUP_TTL_S) -> bool:
    """Take the event's id for its owner (the id of the message that handles it).

    False when another owner holds it (a duplicate). The owner's own copies (a redelivered
    message keeps its id) are let through: what they start is deduplicated per mapping. The web
    takes a short claim as it queues the message (so a crash after frees the id once the claim
    lapses); the worker handling the message takes it for the dedup window.
    """
    return bool(client.register_script(_CLAIM)(keys=[_seen_key(event_id)], args=[owner, ttl_s]))


def claim_event_and_push(client: redis.Redis, event_id: str, owner: str, ttl_s: int,
                         queue: str, entry: str) -> bool:
    """claim_event, and when the claim can be taken, LPUSH entry onto the list queue first.

    The web queues the message that handles the event this way: one round trip, and no window in
    which the claim is taken but the message is not queued (a crash there would refuse the
    sender's retry until the claim lapsed).
    """
    return bool(client.register_script(_CLAIM_AND_PUSH)(keys=[_seen_key(event_id), queue],
                                                       args=[owner, ttl_s, entry]))


def release_event(client: redis.Redis, event_id: str, owner: str) -> None:
    """Give the id back (nothing was started for it), so the sender's retry can work."""
    client.register_script(_RELEASE)(keys=[_seen_key(event_id)], args=[owner])


def _started_key(event_id: str, mapping: EventMapping) -> str:
    return f"mt:events:started:{event_id}:{mapping.pipeline}"


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def _try_mapping(rt: Runtime, start: GoalStarter, mapping: EventMapping, event: Event,
                 claimed: list[str], waits: list[cooldown.Cooldown]) -> EventReason | str:
    """The started goal id, or the reason this mapping starts nothing.

    The goal's id is reserved for (event, pipeline) before the goal is saved, so a copy of this
    handling (a redelivery after a crash anywhere in it) finds the same goal and finishes
    starting it, instead of starting a second one or nothing.
    """
    if mapping.condition is not None and not condition_holds(mapping.condition, event.data):
        return EventReason.CONDITION_FALSE
    started_key = _started_key(event.id, mapping)
    reserved = _text(rt.redis.get(started_key))
    if reserved is None:
        wait = cooldown.take(rt.redis, mapping, event.id, claimed)
        if wait is not None:
            waits.append(wait)
            return EventReason.COOLDOWN
        allowed, level = rt.budget.allows(mapping.priority)
        if not allowed:
            key = cooldown.cooldown_key(mapping)
            if key in claimed:  # nothing started: the next event may try again
                rt.redis.delete(key)
                claimed.remove(key)
            return EventReason(f"budget_{level}")
        reserved = rt.goals.fresh_id()
        if not rt.redis.set(started_key, reserved, nx=True, ex=DEDUP_TTL_S):
            reserved = _text(rt.redis.get(started_key)) or reserved  # a concurrent copy won
    if rt.goals.exists(reserved):
        existing = rt.goals.load(reserved)
        if existing.status is not GoalStatus.PLANNED:
            return existing.id  # started already (by this handling's earlier copy)
        return start(existing).id
    spec = rt.catalog.pipeline(mapping.pipeline)
    goal = plan_pipeline(rt, mapping.pipeline, mapping.priority, source=f"event:{event.type.value}",
                         event=event, description=goal_text(mapping, event, spec.description),
                         goal_id=reserved)
    return start(goal).id


def publish_event(rt: Runtime, event: Event, start: GoalStarter, owner: str) -> EventResult:
    """Run one event through the bus, starting goals with start.

    owner: the id of the message handling the event; its own claim (the web took it before
    queueing the message, or an earlier copy of this message did) does not make it a duplicate.
    """
    level = logging.WARNING if event.type in INTERNAL_EVENTS else logging.INFO
    log.log(level, "event received", extra={"event": "event_received", "event_id": event.id,
                                            "event_type": event.type.value, "source": event.source})
    mappings = mappings_for(rt.catalog.events, event.type)
    if not claim_event(rt.redis, event.id, owner):
        return _done(rt, EventResult(event.id, reasons=(EventReason.DUPLICATE,)), record=False)
    if not mappings:
        return _done(rt, EventResult(event.id, reasons=(EventReason.NO_MAPPING,)))
    goals: list[str] = []
    reasons: list[EventReason] = []
    taken: list[str] = []
    waits: list[cooldown.Cooldown] = []
    try:
        for mapping in mappings:
            outcome = _try_mapping(rt, start, mapping, event, taken, waits)
            if isinstance(outcome, EventReason):
                reasons.append(outcome)
            else:
                goals.append(outcome)
    except BaseException:
        if not goals:
            # Nothing started: release the claims so the sender's retry of this event can work.
            if taken:
                rt.redis.delete(*taken)
            release_event(rt.redis, event.id, owner)
        raise
    return _done(rt, EventResult(event.id, goals=tuple(goals), reasons=tuple(reasons),
                                 cooldowns=tuple(waits)))


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
