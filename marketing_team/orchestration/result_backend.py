"""The result backend: Celery's Redis backend minus result subscriptions nobody waits on, storing
each result in one round trip.

Nothing in the product blocks on a task result (chords are joined by the backend itself, and
progress travels on our own channel). Stock Celery still subscribes to a result channel for every
published task and for every chord header member, even inside workers; those subscriptions cost a
round trip each and fail noisily at exit when an embedded server has already stopped. Waiting on
a result outside a task (`.get()` under `allow_join_result`) still subscribes, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from celery import states
from celery._state import task_join_will_block
from celery.backends.redis import RedisBackend
from celery.exceptions import BackendStoreError
from redis.commands.core import Script

# Celery's store reads the stored state first and keeps a success it finds (a lost copy of a task
# must not overwrite it), then writes the new state and publishes it for waiters: two round
# trips per task, ~0.6 ms of a step's CPU. This is the same check and write, in one script (and
# atomic, where the two trips could interleave with another copy's write). A stored value cjson
# cannot read as a meta (a lone surrogate Python's JSON accepts, a compressed payload) is left to
# Celery's own store (-1): its reader decides, as before.
_STORE = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if not ok or type(meta) ~= 'table' or type(meta['status']) ~= 'string' then
    return -1
  end
  if meta['status'] == ARGV[3] then
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


_unawaited = threading.local()


@contextmanager
def unawaited() -> Iterator[None]:
    """Publish within it: nobody will wait on these tasks' results.

    Celery subscribes to each chord member's result channel as the chord's result set is built
    (a round trip each, outside a worker: `mtctl goal` on remote workers, the review desk), and
    unsubscribes when that result set is collected; the product drops it at once.
    """
    before = getattr(_unawaited, "on", False)
    _unawaited.on = True
    try:
        yield
    finally:
        _unawaited.on = before


class QuietRedisBackend(RedisBackend):  # type: ignore[misc]
    """RedisBackend that subscribes to results only where a caller may wait on them."""

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Publishing never needs a subscription here (see the module docstring)."""

    def _add_pending_result(self, task_id: str, result: Any, weak: bool = False) -> None:
        if task_join_will_block() or getattr(_unawaited, "on", False):
            return  # inside a worker nothing may wait on a result; nor on what we publish
        super()._add_pending_result(task_id, result, weak=weak)

    @cached_property
    def _store_script(self) -> Script:
        script: Script = self.client.register_script(_STORE)
        return script

    def _store_result(self, task_id: str, result: Any, state: str, traceback: Any = None,
                      request: Any = None, **kwargs: Any) -> Any:
        """Celery's store (a stored success is never overwritten), in one round trip."""
        if self.serializer != "json" or self.compression:  # the script reads the stored state as JSON
            return super()._store_result(task_id, result, state, traceback, request, **kwargs)
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = task_id.decode() if isinstance(task_id, bytes) else task_id
        value = self.encode(meta)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        key = self.get_key_for_task(task_id)
        # Celery's _set_with_state: a failure expires after result_failure_expires
        expires = int((self.failure_expires if state == states.FAILURE else self.expires) or 0)
        if self.ensure(self._store_script, ([key], [value, expires, states.SUCCESS])) == -1:
            return super()._store_result(task_id, result, state, traceback, request, **kwargs)
        return result

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        """Celery's two round trips on a chord's publish (its counter cleared, since a frozen
        chord applied again reuses its group id; its size set) in one transaction."""
        counter, size = self.get_key_for_group(group_id, ".c"), self.get_key_for_group(group_id, ".s")

        def both() -> None:
            with self.client.pipeline() as pipe:
                pipe.delete(counter)
                pipe.set(size, chord_size, ex=self.chord_expires or None)
                pipe.execute()

        self.ensure(both, ())


def backend_url(broker_url: str) -> str:
    """The result_backend setting that selects QuietRedisBackend on the broker's server."""
    url = broker_url.removeprefix("redis+")  # kombu spells unix sockets redis+socket://
    return f"marketing_team.orchestration.result_backend:QuietRedisBackend+{url}"
