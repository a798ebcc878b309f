"""Whether the team's server keeps what it is told across a restart: the ledger depends on it.

A Redis without append-only persistence or snapshots loses the month's spend when it restarts,
and the budget could then be spent again. Paid work refuses to start on such a server unless the
operator says the loss is acceptable (`MT_ALLOW_VOLATILE_LEDGER=1`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from marketing_team.domain.errors import ConfigurationError


def _value(reply: Mapping[Any, Any], name: str) -> str:
    raw = reply.get(name, reply.get(name.encode(), ""))
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def volatility(client: redis.Redis) -> str | None:
    """Why the server would lose its data on a restart, or None (it persists, or may not be asked).

    Managed services often disable CONFIG: then nothing can be checked and nothing is refused.
    """
    try:
        aof_reply, save_reply = client.config_get("appendonly"), client.config_get("save")
    except redis.ResponseError:
        return None
    if not isinstance(aof_reply, Mapping) or not isinstance(save_reply, Mapping) or not (
            aof_reply and save_reply):
        return None  # an answer we cannot read (a proxy, a fork of Redis): not judged
    aof, save = _value(aof_reply, "appendonly").strip().lower(), _value(save_reply, "save")
    if aof == "yes" or save.strip():
        return None
    return "appendonly is off and no snapshots are configured (save \"\")"


def require_durable_ledger(client: redis.Redis, where: str, allow_volatile: bool) -> None:
    """Refuse paid work on a server that would lose the ledger (one line, naming the way out)."""
    problem = volatility(client)
    if problem is not None and not allow_volatile:
        raise ConfigurationError(
            f"refusing paid work: Redis at {where} would lose the budget ledger on a restart "
            f"({problem}); turn on appendonly (`appendonly yes`), or set "
            "MT_ALLOW_VOLATILE_LEDGER=1 to accept that")
