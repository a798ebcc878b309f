"""What waits in the broker: the team's queue lists.

Read straight from kombu's Redis layout (one list per queue and priority step, `queue:step`), so
the sweeper can tell a goal whose message waits behind a long backlog from one whose message was
lost or is held by a dead worker.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import redis

QUEUES = ("skills", "director")
PRIORITY_STEPS = list(range(10))  # the broker's priority_steps: one list per step
SEP = ":"  # kombu's separator between a queue's name and its priority step
_GOAL_ID = re.compile(r"goal-\d{8}-[0-9a-f]{6}")


def queue_keys() -> list[str]:
    """Every list kombu keeps for the team's queues (step 0 is the bare name)."""
    return [name if step == 0 else f"{name}{SEP}{step}" for name in QUEUES for step in PRIORITY_STEPS]


def _body(raw: bytes | str) -> str:
    """A message's body as text (base64 JSON inside a JSON envelope); '' when unreadable."""
    try:
        envelope = json.loads(raw)
        body = envelope.get("body", "")
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            return base64.b64decode(body).decode("utf-8", "replace")
        return str(body)
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""  # not a message of ours: it names no goal


def message_bodies(client: redis.Redis) -> Iterator[str]:
    """Every message waiting in a team queue, as text (not those a worker holds unacknowledged)."""
    for key in queue_keys():
        for raw in client.lrange(key, 0, -1):
            yield _body(raw)


def goals_with_messages(client: redis.Redis) -> set[str]:
    """Ids of the goals some waiting message names (its args or later steps).

    Messages held unacknowledged do not count: a live worker running one holds the step's lease
    (or finishes it in moments: a join), while a dead worker's stays held until the visibility
    timeout, half an hour away; counting it would hide exactly the goals that are stuck.
    """
    found: set[str] = set()
    for body in message_bodies(client):
        found.update(_GOAL_ID.findall(body))
    return found
