"""Per-schedule state (enabled, last fired, last skip, counts) in Redis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from marketing_team.domain.schedule import SkipReason
from marketing_team.domain.values import utcnow
from marketing_team.store.connection import RedisConnection


class ScheduleState(BaseModel):
    """What happened to one schedule so far; `enabled` None means the catalog's default."""

    id: str
    enabled: bool | None = None
    last_fired_at: datetime | None = None
    last_goal_id: str | None = None
    fire_count: int = 0
    last_skip_reason: SkipReason | None = None
    last_skipped_at: datetime | None = None
    skip_count: int = 0

    def is_enabled(self, default: bool) -> bool:
        """The stored switch, else the catalog's `enabled`."""
        return default if self.enabled is None else self.enabled


def _key(schedule_id: str) -> str:
    return f"mt:schedule:{schedule_id}"


def _encode(state: ScheduleState) -> dict[str, str]:
    data = state.model_dump(mode="json", exclude={"id"})
    out: dict[str, str] = {}
    for name, value in data.items():
        if value is None:
            continue
        out[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(schedule_id: str, raw: Mapping[bytes | str, bytes | str]) -> ScheduleState:
    data: dict[str, Any] = {_text(k): _text(v) for k, v in raw.items()}
    if "enabled" in data:
        data["enabled"] = data["enabled"] == "1"
    return ScheduleState.model_validate({"id": schedule_id, **data})


class ScheduleStates:
    """The state store: one hash per schedule in Redis (append-only, like everything we keep)."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def get(self, schedule_id: str) -> ScheduleState:
        """The state of one schedule (defaults when it never fired)."""
        return _decode(schedule_id, self.connection.client.hgetall(_key(schedule_id)))

    def _change(self, schedule_id: str, update: dict[str, Any], counter: str | None) -> ScheduleState:
        fields = _encode(ScheduleState(id=schedule_id, **update))
        fields = {name: value for name, value in fields.items() if name in update}
        with self.connection.client.pipeline() as pipe:  # MULTI/EXEC: counters and fields move together
            for name, value in fields.items():
                pipe.hset(_key(schedule_id), name, value)
            if counter:
                pipe.hincrby(_key(schedule_id), counter, 1)
            pipe.execute()
        return self.get(schedule_id)

    def set_enabled(self, schedule_id: str, enabled: bool) -> ScheduleState:
        """Switch a schedule on or off; the next tick sees it (beat keeps firing, the task decides)."""
        return self._change(schedule_id, {"enabled": enabled}, None)

    def record_fire(self, schedule_id: str, goal_id: str, at: datetime | None = None) -> ScheduleState:
        """A firing started goal_id."""
        update = {"last_fired_at": at or utcnow(), "last_goal_id": goal_id}
        return self._change(schedule_id, update, "fire_count")

    def record_skip(self, schedule_id: str, reason: SkipReason,
                    at: datetime | None = None) -> ScheduleState:
        """A firing was skipped for reason."""
        update = {"last_skip_reason": reason, "last_skipped_at": at or utcnow()}
        return self._change(schedule_id, update, "skip_count")


__all__ = ["ScheduleState", "ScheduleStates"]
