"""Work parked in Redis while the budget level does not allow it: republished when it does.

A deferred task no longer waits in a worker's memory as an ETA message for hours or days: its
message is acknowledged and a record waits here; the sweeper checks the level and republishes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)
PARKED = "mt:parked"  # member: the parked step as JSON -> when to check it again (server time, s)

# ARGV: limit. Entries due now, oldest first.
_DUE = """
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
"""
# KEYS: the zset. ARGV: member, wait. Check this entry again after wait seconds.
_LATER = """
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
"""


@dataclass(frozen=True)
class ParkedStep:
    """One step of a goal waiting for the budget: which task, in which run, and how often it waited."""

    goal_id: str
    task_id: str
    run: int
    waits: int = 0

    def member(self) -> str:
        """The entry's identity in the parked set (the wait count is not part of it)."""
        return json.dumps({"goal_id": self.goal_id, "task_id": self.task_id, "run": self.run},
                          sort_keys=True)


class ParkedWork:
    """Park, list and take back steps that wait for the budget."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._due = client.register_script(_DUE)
        self._later = client.register_script(_LATER)

    def park(self, step: ParkedStep, wait_s: int) -> None:
        """Wait wait_s seconds before the level is checked again for this step."""
        self._later(keys=[PARKED], args=[step.member(), wait_s])
        self.client.hset(f"{PARKED}:waits", step.member(), step.waits)

    def due(self, limit: int = 50) -> list[ParkedStep]:
        """Steps whose check is due, oldest first."""
        steps = []
        for raw in self._due(keys=[PARKED], args=[limit]):
            member = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            step = self._parse(member, self.client.hget(f"{PARKED}:waits", member))
            if step is None:
                self.client.zrem(PARKED, raw)
                self.client.hdel(f"{PARKED}:waits", raw)
                continue
            steps.append(step)
        return steps

    @staticmethod
    def _parse(member: str, waits: bytes | str | None) -> ParkedStep | None:
        """The step an entry names, or None (with a warning) for one we did not write."""
        try:
            data = json.loads(member)
            return ParkedStep(str(data["goal_id"]), str(data["task_id"]), int(data["run"]),
                              int(waits or 0))
        except (ValueError, TypeError, KeyError):
            log.warning(f"dropped a malformed parked entry {member[:120]!r}",
                        extra={"event": "parked_malformed"})
            return None

    def wake_all(self) -> int:
        """Make every parked step due now (a restarted worker may bring a new budget); how many."""
        members = [m.decode() if isinstance(m, bytes) else str(m)
                   for m in self.client.zrange(PARKED, 0, -1)]
        if members:
            self.client.zadd(PARKED, dict.fromkeys(members, 0))
        return len(members)

    def waiting(self, limit: int = 100) -> list[ParkedStep]:
        """Every parked step (due or not), with how often each has waited."""
        members = [m.decode() if isinstance(m, bytes) else str(m)
                   for m in self.client.zrange(PARKED, 0, limit - 1)]
        waits = self.client.hmget(f"{PARKED}:waits", members) if members else []
        return [step for m, w in zip(members, waits, strict=True)
                if (step := self._parse(m, w)) is not None]

    def drop(self, step: ParkedStep) -> None:
        """The step left the parking: republished, or its goal moved on."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(PARKED, step.member())
            pipe.hdel(f"{PARKED}:waits", step.member())
            pipe.execute()

    def count(self) -> int:
        """How many steps wait."""
        return int(self.client.zcard(PARKED))
