"""The result backend: Celery's Redis backend minus result subscriptions nobody waits on.

Nothing in the product blocks on a task result (chords are joined by the backend itself, and
progress travels on our own channel). Stock Celery still subscribes to a result channel for every
published task and for every chord header member, even inside workers; those subscriptions cost a
round trip each and fail noisily at exit when an embedded server has already stopped. Waiting on
a result outside a task (`.get()` under `allow_join_result`) still subscribes, as before.
"""

from __future__ import annotations

from typing import Any

from celery._state import task_join_will_block
from celery.backends.redis import RedisBackend


class QuietRedisBackend(RedisBackend):  # type: ignore[misc]
    """RedisBackend that subscribes to results only where a caller may wait on them."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Publishing never needs a subscription here (see the module docstring)."""

    def _add_pending_result(self, task_id: str, result: Any, weak: bool = False) -> None:
        if task_join_will_block():
            return  # inside a worker nothing may wait on a result
        super()._add_pending_result(task_id, result, weak=weak)


def backend_url(broker_url: str) -> str:
    """The result_backend setting that selects QuietRedisBackend on the broker's server."""
    url = broker_url.removeprefix("redis+")  # kombu spells unix sockets redis+socket://
    return f"marketing_team.orchestration.result_backend:QuietRedisBackend+{url}"
