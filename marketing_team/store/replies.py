"""Model replies stored by (goal, task, revision), so a redelivered task reuses instead of paying again.

The store keeps each reply as the JSON its owner hands in, set once and expiring with the goal's
retention; the meter (budget layer) turns it back into a reply and re-validates it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis

from marketing_team.domain.errors import CorruptStateError
from marketing_team.store.connection import RedisConnection


def reply_key(goal_id: str, task_id: str, revision: int, purpose: str) -> str:
    """The cache key of one LLM call; the delivery attempt is deliberately not part of it."""
    return f"{goal_id}/{task_id}/r{revision}/{purpose}"


def redis_key(key: str) -> str:
    """Where the reply for key is kept (hashed, so any key is a safe Redis key)."""
    return f"mt:reply:{hashlib.sha256(key.encode()).hexdigest()}"


class ReplyStore:
    """Set-if-absent, expiring reply records in Redis."""

    def __init__(self, connection: RedisConnection, ttl_s: int) -> None:
        self.connection = connection
        self.ttl_s = ttl_s

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply's JSON object, or None; a record that cannot be read is CorruptStateError."""
        return self.decode(key, self.connection.client.get(redis_key(key)))

    @staticmethod
    def queue_get(pipe: redis.client.Pipeline, key: str) -> None:
        """Queue get's read on a caller's pipeline; its answer goes to decode."""
        pipe.get(redis_key(key))

    @staticmethod
    def decode(key: str, raw: bytes | str | None) -> dict[str, Any] | None:
        """The reply in a stored record read for key (None when absent; CorruptStateError if unreadable)."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("reply"), dict):
                raise ValueError("the record does not hold a reply for this key")
        except ValueError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CorruptStateError(f"stored reply {redis_key(key)} is corrupt: {reason}") from None
        reply: dict[str, Any] = data["reply"]
        return reply

    def put(self, key: str, reply: dict[str, Any]) -> bool:
        """Store a reply unless one is stored already (the first paid answer wins); True when stored."""
        return bool(self.connection.client.set(redis_key(key), _record(key, reply), nx=True, ex=self.ttl_s))

    def queue_put(self, pipe: redis.client.Pipeline, key: str, reply: dict[str, Any]) -> None:
        """Queue put's write on a caller's pipeline; its answer is truthy when this reply was stored."""
        pipe.set(redis_key(key), _record(key, reply), nx=True, ex=self.ttl_s)


def _record(key: str, reply: dict[str, Any]) -> str:
    return json.dumps({"key": key, "reply": reply}, ensure_ascii=False)
