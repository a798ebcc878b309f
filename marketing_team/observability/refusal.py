"""Redis refusing writes (a full disk, maxmemory, a read-only replica): recognised, probed, named."""

from __future__ import annotations

import redis

from marketing_team.domain.errors import StoreRefusedWritesError

PROBE_KEY = "mt:write-probe"
# What each refusal means for the person who has to fix it; redis-py drops the OOM and READONLY
# codes from the text (they become exception classes), and kombu re-wraps the text in its own
# OperationalError, so the server's wording is matched as well as the code.
_CAUSES = (
    (("MISCONF", "unable to persist"), "the server cannot write its data to disk (a full "
     "or read-only disk under its data directory)"),
    (("OOM command", "used memory > 'maxmemory'"), "the server is at its maxmemory limit and evicts "
     "nothing (maxmemory-policy noeviction)"),
    (("READONLY You", "read only replica"), "the server is a read-only replica; point REDIS_URL at "
     "the primary"),
)


def refusal_of(exc: BaseException) -> str | None:
    """`<cause>: <server's words>` when exc (or what it wraps) is the server refusing writes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = " ".join(str(current).split())
        for markers, cause in _CAUSES:
            if any(marker in text for marker in markers):
                return f"{cause}: {text.rstrip('.')}"
        current = current.__cause__ or current.__context__
    return None


def probe(client: redis.Redis) -> str | None:
    """Write one expiring key: the refusal when the server turns writes away, else None.

    Reads keep working while writes are refused, so a follower that only reads would wait
    forever for a goal no worker can move; one small write tells it.
    """
    try:
        client.set(PROBE_KEY, "1", ex=60)
    except redis.ResponseError as exc:
        return refusal_of(exc)
    except redis.RedisError:
        return None  # unreachable is a different fault, reported where reads fail
    return None


def server_of(client: redis.Redis) -> str:
    """The server a client talks to, without credentials: `redis://host:port/db` or `unix://path`,
    with its data directory when the server tells (CONFIG may be disabled on managed servers)."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        where = f"unix://{kwargs['path']}"
    else:
        where = f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    try:
        folder = client.config_get("dir").get("dir")
    except redis.RedisError:
        folder = None
    return f"{where} (data in {folder})" if folder else where


def refused(server: str, refusal: str, goal_id: str | None = None) -> StoreRefusedWritesError:
    """The one-line error: the server, the cause and, for a goal already started, how to go on."""
    text = f"Redis at {server} refuses writes: {refusal}"
    if goal_id:
        text += (f"; goal {goal_id} stays running and resumes once the server accepts writes: "
                 f"mtctl goals resume {goal_id}")
    return StoreRefusedWritesError(text)


__all__ = ["PROBE_KEY", "probe", "refusal_of", "refused", "server_of"]
