"""Publishing work: a goal's phases, what a phase move asks for, a goal's start, and engine events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from celery import Celery
from celery.canvas import Signature
from kombu.exceptions import OperationalError

from marketing_team.director import flow, phases
from marketing_team.director.phases import Move
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import AlreadyExistsError, MarketingTeamError
from marketing_team.domain.event import Event
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord
from marketing_team.observability import progress
from marketing_team.orchestration.canvas import (
    NO_DECLARE,
    director_signature,
    phase_canvas,
    resume_canvas,
    step_signature,
)
from marketing_team.orchestration.event_message import (
    EVENT_QUEUE,
    HANDLE_EVENT,
    HANDLING_PRIORITY,
    NO_LIMITS,
    handling_entry,
    handling_repr,
)
from marketing_team.orchestration.result_backend import unawaited
from marketing_team.orchestration.transport import broker_unavailable, kombu_url
from marketing_team.store.internal_events import record_internal
from marketing_team.store.outbox import Publication
from marketing_team.triggers import event_bus
from marketing_team.triggers.starting import GoalStarter

log = logging.getLogger(__name__)


def _publish(app: Celery, goal: Goal, canvas: Signature, what: str, index: int) -> None:
    # A crash (an unexpected exception) anywhere in the canvas fails the goal with its reason,
    # unless the run moved on meanwhile: the errback carries the run it belongs to.
    canvas.on_error(director_signature(app, "task_crashed", goal.id, goal.run, immutable=False))
    with unawaited():
        canvas.apply_async()
    log.info("phase published", extra={"event": what, "goal_id": goal.id, "phase": index + 1,
                                       "run": goal.run})


def dispatch_phase(app: Celery, goal: Goal, index: int) -> None:
    """Publish one phase's canvas (its claim was recorded first, by whoever advanced the goal)."""
    _publish(app, goal, phase_canvas(app, goal, index), "phase_dispatched", index)


def publish_revision(app: Celery, task: TaskRecord, run: int) -> None:
    """Publish a revision (a new draft and its review) with the same crash callback as a phase:
    a bug in a revision fails its goal at once instead of leaving it to the watchdog."""
    revision = step_signature(app, task, run)
    revision.on_error(director_signature(app, "task_crashed", task.goal_id, run, immutable=False))
    with unawaited():
        revision.apply_async()


def republish_task(app: Celery, goal: Goal, task: TaskRecord) -> None:
    """Publish a task again (taken over from a silent worker, parked, revised by a person)."""
    _publish(app, goal, resume_canvas(app, goal, task), "task_republished", task.phase_index)


def follow(app: Celery, rt: Runtime, goal: Goal, move: Move, *notices: progress.Notice) -> None:
    """Do what a phase move asks: publish the phase this caller claimed; then send notices.

    Followers heard of the move already: its notices went out with the transition. The notices
    given go out once the phase is, in the round trip that crosses it off the outbox.
    """
    if move is not Move.PUBLISH:
        for notice in notices:
            progress.send(rt.redis, notice)
        return
    dispatch_phase(app, goal, goal.current_phase)
    rt.outbox.done(Publication(goal.id, goal.run, goal.current_phase), notices)  # owed no more


def start(app: Celery, rt: Runtime, goal_id: str) -> Goal:
    """Mark the goal running and publish its current phase for this run (once per run)."""
    goal, move = phases.claim_start(rt, goal_id, read=rt.budget.before_publish(goal_id))
    started = progress.Notice(goal_id, "goal_started", phases=len(goal.plan.phases), run=goal.run)
    follow(app, rt, goal, move, started)
    return goal


def publish_goal(app: Celery, rt: Runtime, goal: Goal,
                 on_created: Callable[[Goal], object] | None = None) -> Goal:
    """Save and publish a planned goal; if publishing fails the goal is failed with the reason.

    A goal saved already and still planned (a copy of this start after a crash in between) is
    published as it is.
    """
    try:
        rt.goals.create(goal)
    except AlreadyExistsError:
        if rt.goals.load(goal.id).status is not GoalStatus.PLANNED:
            raise
    else:
        if on_created is not None:
            on_created(goal)
    try:
        return start(app, rt, goal.id)
    except MarketingTeamError as exc:
        # A planned goal nobody publishes would look active forever (and block its schedule).
        flow.fail_goal(rt, goal.id, f"could not start: {type(exc).__name__}: {exc}"[:300])
        raise


def starter(app: Celery, rt: Runtime) -> GoalStarter:
    """The GoalStarter that triggers (schedules, the event bus) are handed."""

    def start_goal(goal: Goal, on_created: Callable[[Goal], object] | None = None) -> Goal:
        return publish_goal(app, rt, goal, on_created)

    return start_goal


def emit(app: Celery, rt: Runtime, events: Iterable[Event]) -> None:
    """Record events the engine returned, and route each a mapping exists for through the bus.

    Routed as a `triggers.handle_event` task, so a goal an event starts is planned on a worker
    of its own, never inside the task (or the gate) that raised the event.
    """
    for event in events:
        record_internal(rt.redis, event)
        if any(m.event == event.type for m in rt.catalog.events):
            publish_event(app, event)


def publish_event(app: Celery, event: Event, message_id: str | None = None) -> None:
    """Send an event to the bus on a worker (`triggers.handle_event`).

    message_id: the id of the claim the caller took for the event, so the handling message is
    recognised as the claim's owner.
    """
    try:
        # send_task, with the repr Flower shows given: the event's data may be personal, and
        # Celery's own repr of it cost a tenth of a webhook request's CPU.
        app.send_task(HANDLE_EVENT, args=(event.model_dump_json(),), queue=EVENT_QUEUE,
                      task_id=message_id, argsrepr=handling_repr(event), kwargsrepr="{}",
                      priority=HANDLING_PRIORITY, **NO_LIMITS, **NO_DECLARE)
    except OperationalError as exc:  # kombu's, once its publish retries are spent: nothing queued
        raise broker_unavailable(str(app.conf.broker_url), f"queue event {event.id}", exc) from exc


def queue_claimed_event(app: Celery, rt: Runtime, event: Event, claim_ttl_s: int) -> bool:
    """Claim the event's id and queue the message that handles it; False for a duplicate.

    The claim names the message and is short (claim_ttl_s): the worker handling the message
    extends it to the dedup window. Both go in one script (one round trip) when the team's Redis
    is the broker, as the product's one Redis is. Otherwise, claim then publish, giving the claim
    back if the publish fails.
    """
    owner = str(uuid.uuid4())
    entry = None
    if rt.connection.url is not None and app.conf.broker_url == kombu_url(rt.connection.url):
        try:
            entry = handling_entry(app, event, owner, same_as=rt.redis)
        except OperationalError as exc:  # kombu's: its connection could not be made
            raise broker_unavailable(str(app.conf.broker_url), f"queue event {event.id}", exc) from exc
    if entry is not None:
        return event_bus.claim_event_and_push(rt.redis, event.id, owner, claim_ttl_s,
                                              entry.key, entry.entry)
    if not event_bus.claim_event(rt.redis, event.id, owner, claim_ttl_s):
        return False
    try:
        publish_event(app, event, message_id=owner)
    except BaseException:
        event_bus.release_event(rt.redis, event.id, owner)
        raise
    return True
