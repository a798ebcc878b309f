"""Goal progress over Redis pub/sub: workers publish each change, the CLI listens (no polling loop)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import redis

from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.observability.refusal import probe, refused, server_of

log = logging.getLogger(__name__)
T = TypeVar("T")
RECONNECT_S = 30.0  # how long a follower waits for Redis to come back before giving up
RETRY_EVERY_S = 0.5


def channel(goal_id: str) -> str:
    """The pub/sub channel of one goal."""
    return f"mt:goal:{goal_id}:progress"


class Notice:
    """An announcement sent in the same transaction as the change it announces (no round trip of
    its own; a goal store's `update` takes it as a staged effect)."""

    def __init__(self, goal_id: str, event: str, **data: Any) -> None:
        self.goal_id = goal_id
        self.channel = channel(goal_id)
        self.payload = _payload(goal_id, event, data)

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """PUBLISH with the change."""
        pipe.publish(self.channel, self.payload)


def _payload(goal_id: str, event: str, data: dict[str, Any]) -> str:
    return json.dumps({"event": event, "goal_id": goal_id, **data}, default=str)


def publish(client: redis.Redis, goal_id: str, event: str, **data: Any) -> None:
    """Announce a change; progress is advisory, so a broker hiccup is logged, not raised."""
    send(client, Notice(goal_id, event, **data))


def send(client: redis.Redis, notice: Notice) -> None:
    """Publish a notice on its own (advisory: a broker hiccup is logged, not raised)."""
    try:
        client.publish(notice.channel, notice.payload)
    except redis.RedisError as exc:
        log.warning("progress publish failed", extra={"event": "progress_failed",
                                                       "goal_id": notice.goal_id,
                                                       "error": type(exc).__name__})


class Subscription:
    """A goal's progress channel, subscribed before work is published so no event is missed.

    Redis going away (a restart, a failover) does not end the follow: reads reconnect and the
    channel is subscribed again, for up to reconnect_s; then BrokerUnavailableError says so.
    """

    def __init__(self, client: redis.Redis, goal_id: str, reconnect_s: float = RECONNECT_S) -> None:
        self.goal_id = goal_id
        self.reconnect_s = reconnect_s
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel(goal_id))

    def events(self, wake_every_s: float = 2.0) -> Iterator[dict[str, Any] | None]:
        """Yield each event; yield None when nothing arrived for wake_every_s (to re-check state).

        After a reconnect it yields None too: events published meanwhile were lost. A quiet
        channel may mean the server refuses writes (full disk, maxmemory): no worker can move the
        goal then, so StoreRefusedWritesError says so, with the server, the cause and the resume
        command, instead of waiting for ever.
        """
        while True:
            try:
                message = self._pubsub.get_message(timeout=wake_every_s)
            except (redis.ConnectionError, redis.TimeoutError):
                # The next read reconnects and subscribes again (redis-py's pub/sub on_connect)
                self.read(lambda: self._pubsub.get_message(timeout=0))
                yield None
                continue
            if message is None:
                refusal = probe(self._client)
                if refusal is not None:
                    raise refused(server_of(self._client), refusal, self.goal_id)
                yield None
            elif message.get("type") == "message":
                yield json.loads(message["data"])

    def read(self, fetch: Callable[[], T]) -> T:
        """fetch(), retried while Redis is unreachable, for up to reconnect_s."""
        deadline = time.monotonic() + self.reconnect_s
        while True:
            try:
                return fetch()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise BrokerUnavailableError(
                        f"lost Redis while following goal {self.goal_id} and it did not come back "
                        f"within {self.reconnect_s:.0f} s ({type(exc).__name__}); the goal goes on "
                        f"where workers reach Redis: `mtctl goals show {self.goal_id}`") from None
                time.sleep(RETRY_EVERY_S)

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        try:
            self._pubsub.close()
        except redis.RedisError:
            pass  # gone already: nothing to release on the server
