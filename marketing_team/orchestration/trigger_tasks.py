"""Celery tasks for triggers: Beat's `triggers.fire_schedule` and the bus's `triggers.handle_event`."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from marketing_team.domain.event import Event
from marketing_team.orchestration.context import runtime_of
from marketing_team.orchestration.dispatch import starter
from marketing_team.triggers import event_bus, firing


def register(app: Celery) -> None:
    """Register the trigger tasks on app (routed to the director queue by the Celery settings)."""

    # Plain tasks, not TeamTask: the budget decision for a trigger is made (and recorded with
    # its reason) inside the body, where a pre-run veto would lose it.
    @app.task(name="triggers.fire_schedule", bind=True, shared=False)  # type: ignore[untyped-decorator]
    def fire_schedule(self: Task, schedule_id: str, manual: bool = False) -> dict[str, Any]:
        """Beat's tick of one schedule: start its goal, or record why not."""
        rt = runtime_of(self.app)
        return firing.fire(rt, schedule_id, starter(self.app, rt), manual=manual).as_json()

    @app.task(name="triggers.handle_event", bind=True, shared=False)  # type: ignore[untyped-decorator]
    def handle_event(self: Task, event_json: str) -> dict[str, Any]:
        """Run one event (as JSON) through the bus on a worker; this message owns the event's claim."""
        rt = runtime_of(self.app)
        event = Event.model_validate_json(event_json)
        return event_bus.publish_event(rt, event, starter(self.app, rt), owner=self.request.id).as_json()
