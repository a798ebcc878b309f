"""An event's handling message as the Redis entry kombu would push, so the web can queue it inside
the same script that claims the event's id: one round trip instead of two, and no window between
the claim and the message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from kombu.serialization import dumps

from marketing_team.domain.event import Event

HANDLE_EVENT = "triggers.handle_event"
EVENT_QUEUE = "director"


@dataclass(frozen=True)
class QueueEntry:
    """One LPUSH: the Redis list (the queue's key for the message's priority) and the entry."""

    key: str
    entry: str


class _Collected:
    """kombu's Redis publish-batch hook: the commands the transport would send, kept, not sent."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[object, ...]]] = []

    def add(self, name: str, *args: object) -> None:
        """Called by the transport for each command of the message being published."""
        self.commands.append((name, args))


def handling_repr(event: Event) -> str:
    """The task's argsrepr (what Flower shows): the event's data may be personal."""
    return f"({event.type.value} event {event.id})"


# The handling task's priority, given on every publish: Celery's own default for it changes once
# the app has loaded its tasks (0 before, the task default of 6 after). The top one: a worker pops
# by priority across all the queues it consumes, so at 6 an event waited behind every queued P0-P1
# skill step and director task, though handling it takes a moment and may start a P0 goal.
HANDLING_PRIORITY = 0


# No time limits in the message, on every publish: the worker that runs the task applies its own
# settings. (send_task stamps the publisher's once the app has loaded its tasks, and a web
# configured apart from the workers would then bound their task; an explicit None clears them.)
NO_LIMITS: dict[str, float | None] = {"time_limit": None, "soft_time_limit": None}


def connection_target(kwargs: Mapping[str, Any]) -> tuple[object, object, object, int]:
    """Where a redis-py connection pool's connections go: host, port, socket path, database."""
    host = kwargs.get("host")
    port = kwargs.get("port") or (6379 if host else None)  # kombu fills the default in, redis-py not
    return host, int(port) if port else None, kwargs.get("path"), int(kwargs.get("db") or 0)


def handling_entry(app: Celery, event: Event, message_id: str,
                   same_as: redis.Redis | None = None) -> QueueEntry | None:
    """The LPUSH kombu's Redis transport would make to publish the event's handling task.

    The message is built by Celery (`create_task_message`, as `send_task` does) and routed by
    kombu's own channel through its batch hook, so its format and its queue key are theirs. None
    when the transport would send anything else (another transport, a kombu without the hook,
    queue expiry commands), when its connection is not up yet (making it would wait out kombu's
    connect retries; the two-step publish fails at once when Redis is down), or when same_as is
    given and kombu's connections reach another database than that client's (one URL can name two:
    on a socket, redis-py reads `?db=` and kombu ignores it): the caller then claims and
    publishes in two steps.
    """
    with app.producer_or_acquire() as producer:
        if not producer.connection.connected:
            return None
        channel = producer.channel
        pool = getattr(channel, "pool", None)
        if same_as is not None and (pool is None or connection_target(pool.connection_kwargs)
                                    != connection_target(same_as.connection_pool.connection_kwargs)):
            return None
        if getattr(channel, "create_publish_batch", None) is None or not getattr(
                channel, "supports_batch_publish", True):
            return None  # without the hook, basic_publish below would really publish
        headers, properties, body, _ = app.amqp.create_task_message(
            message_id, HANDLE_EVENT, (event.model_dump_json(),), {}, argsrepr=handling_repr(event),
            kwargsrepr="{}", reply_to=app.thread_oid, ignore_result=None, **NO_LIMITS)
        content_type, encoding, data = dumps(body, serializer=app.conf.task_serializer)  # type: ignore[no-untyped-call]
        properties["delivery_mode"] = 2  # persistent, as send_task publishes to a durable queue
        message = channel.prepare_message(data, HANDLING_PRIORITY, content_type, encoding,
                                          headers, properties)
        collected = _Collected()
        channel.basic_publish(message, exchange="", routing_key=EVENT_QUEUE, _publish_batch=collected)
    if len(collected.commands) != 1:
        return None
    name, args = collected.commands[0]
    if name != "lpush" or len(args) != 2:
        return None
    key, entry = args
    return QueueEntry(str(key), entry if isinstance(entry, str) else str(entry))
