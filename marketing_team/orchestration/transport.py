"""kombu's Redis transport with one command client per channel, not one per operation.

kombu's Redis channel builds a new `redis.Redis` for every publish, ack and size query
(`Channel.conn_or_acquire` -> `_create_client`), and redis-py's constructor fills a 169-entry
response-callback table each time: ~0.2 ms of CPU per operation, paid on every step a worker runs
and every event the web queues. A client is only a handle on the channel's connection pool (each
command borrows a pooled connection), so one per channel serves every thread. The asynchronous
client kombu keeps for BRPOP is left as it is.

Registered under the `redis` and `rediss` names (and so for `redis+socket://`), for every kombu
connection in the process.
"""

from __future__ import annotations

import threading
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

from marketing_team.config.settings import mask_url
from marketing_team.domain.errors import BrokerUnavailableError


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """A channel that reuses its command client while its connection pool stays the same."""

    _command_client: tuple[Any, Any] | None = None  # (the pool it was made on, the client)
    _command_client_lock = threading.Lock()

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        # kombu drops its pool after a fork or a failed connect: a new pool gets a new client.
        pool = self.pool
        made = self._command_client
        if made is None or made[0] is not pool:
            with self._command_client_lock:
                made = self._command_client
                if made is None or made[0] is not pool:
                    made = self._command_client = (pool, super()._create_client())  # type: ignore[no-untyped-call]
        return made[1]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport, with the channel above."""

    Channel = Channel


def kombu_url(url: str) -> str:
    """A Redis URL as kombu spells it: redis-py's `unix://` is kombu's `redis+socket://` (kombu
    has no `unix` transport; REDIS_URL may be either)."""
    return "redis+socket://" + url[len("unix://"):] if url.startswith("unix://") else url


def broker_unavailable(broker_url: str, doing: str, exc: Exception) -> BrokerUnavailableError:
    """kombu's OperationalError (its connection retries spent) as our typed error: what could not
    be done, on the broker named without its password."""
    return BrokerUnavailableError(f"could not {doing} on {mask_url(broker_url)}: {exc}")


def install() -> None:
    """Make `redis://`, `rediss://` and `redis+socket://` use this transport in this process."""
    for name in ("redis", "rediss"):
        TRANSPORT_ALIASES[name] = f"{__name__}:Transport"
