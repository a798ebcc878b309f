"""Per-schedule state (enabled, last fired, last skip, counts) in Redis, mirrored to the workspace."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from pydantic import BaseModel, ValidationError

from marketing_team.domain.errors import CorruptFileError
from marketing_team.domain.schedule import SkipReason
from marketing_team.domain.values import utcnow
from marketing_team.store.workspace import Workspace, atomic_write, file_lock


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
    """The state store: Redis is the live copy; `state/schedules.json` survives a Redis wipe."""

    def __init__(self, workspace: Workspace, client: redis.Redis | None) -> None:
        self.client = client
        self.path: Path = workspace.root / "state" / "schedules.json"

    def _mirror(self) -> dict[str, ScheduleState]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {sid: ScheduleState.model_validate({**item, "id": sid}) for sid, item in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, ValidationError, AttributeError) as exc:
            raise CorruptFileError(f"{self.path}: {type(exc).__name__}") from None

    def _write_mirror(self, states: Iterable[ScheduleState]) -> None:
        with file_lock(self.path.with_suffix(".lock")):
            merged = self._mirror()
            merged.update({s.id: s for s in states})
            body = {sid: s.model_dump(mode="json", exclude={"id"}) for sid, s in sorted(merged.items())}
            atomic_write(self.path, json.dumps(body, indent=2) + "\n")

    def _hydrate(self, client: redis.Redis, schedule_id: str) -> None:
        # After a Redis restart (or on an embedded server) the mirror is the only copy: put it
        # back before changing anything, so counters continue instead of restarting at zero.
        if client.exists(_key(schedule_id)):
            return
        saved = self._mirror().get(schedule_id)
        fields = _encode(saved) if saved is not None else {}
        if fields:
            with client.pipeline() as pipe:
                for name, value in fields.items():
                    pipe.hsetnx(_key(schedule_id), name, value)
                pipe.execute()

    def get(self, schedule_id: str) -> ScheduleState:
        """The state of one schedule (defaults when it never fired)."""
        if self.client is None:
            return self._mirror().get(schedule_id) or ScheduleState(id=schedule_id)
        self._hydrate(self.client, schedule_id)
        return _decode(schedule_id, self.client.hgetall(_key(schedule_id)))

    def _change(self, schedule_id: str, update: dict[str, Any], counter: str | None) -> ScheduleState:
        if self.client is None:
            state = self.get(schedule_id)
            if counter:
                update = {**update, counter: getattr(state, counter) + 1}
            new = state.model_copy(update=update)
            self._write_mirror([new])
            return new
        fields = _encode(ScheduleState(id=schedule_id, **update))
        fields = {name: value for name, value in fields.items() if name in update}
        self._hydrate(self.client, schedule_id)
        with self.client.pipeline() as pipe:  # MULTI/EXEC: counters and fields move together
            for name, value in fields.items():
                pipe.hset(_key(schedule_id), name, value)
            if counter:
                pipe.hincrby(_key(schedule_id), counter, 1)
            pipe.execute()
        state = self.get(schedule_id)
        self._write_mirror([state])
        return state

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
