"""Goal progress over Redis pub/sub: workers publish each change, the CLI listens (no polling loop)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import redis

log = logging.getLogger(__name__)


def channel(goal_id: str) -> str:
    """The pub/sub channel of one goal."""
    return f"mt:goal:{goal_id}:progress"


def publish(client: redis.Redis, goal_id: str, event: str, **data: Any) -> None:
    """Announce a change; progress is advisory, so a broker hiccup is logged, not raised."""
    payload = json.dumps({"event": event, "goal_id": goal_id, **data}, default=str)
    try:
        client.publish(channel(goal_id), payload)
    except redis.RedisError as exc:
        log.warning("progress publish failed", extra={"event": "progress_failed", "goal_id": goal_id,
                                                       "error": type(exc).__name__})


class Subscription:
    """A goal's progress channel, subscribed before work is published so no event is missed."""

    def __init__(self, client: redis.Redis, goal_id: str) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel(goal_id))

    def events(self, wake_every_s: float = 2.0) -> Iterator[dict[str, Any] | None]:
        """Yield each event; yield None when nothing arrived for wake_every_s (to re-check state)."""
        while True:
            message = self._pubsub.get_message(timeout=wake_every_s)
            if message is None:
                yield None
            elif message.get("type") == "message":
                yield json.loads(message["data"])

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        self._pubsub.close()
