"""An event mapping's cooldown: claimed atomically in Redis, and when held, how long it still lasts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from marketing_team.catalog.specs import EventMapping
from marketing_team.domain.values import utcnow


@dataclass(frozen=True)
class Cooldown:
    """A mapping held by an earlier event: its pipeline, the seconds left and when it ends."""

    pipeline: str
    remaining_s: int
    until: datetime

    def as_json(self) -> dict[str, object]:
        """The CLI's --json and the webhook's body."""
        return {"pipeline": self.pipeline, "remaining_s": self.remaining_s,
                "until": self.until.isoformat(timespec="seconds")}

    def __str__(self) -> str:
        return (f"cooldown of {self.pipeline}: {self.remaining_s} s left, "
                f"until {self.until.isoformat(timespec='seconds')}")


def cooldown_key(mapping: EventMapping) -> str:
    """The Redis key holding the mapping's cooldown (its value: the event that took it)."""
    return f"mt:events:cooldown:{mapping.event.value}:{mapping.pipeline}"


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def _remaining(client: redis.Redis, mapping: EventMapping) -> Cooldown | None:
    ttl = int(client.ttl(cooldown_key(mapping)))
    if ttl <= 0:  # -2: gone meanwhile, -1: no expiry (never set so by us)
        return None
    return Cooldown(mapping.pipeline, ttl, utcnow() + timedelta(seconds=ttl))


def take(client: redis.Redis, mapping: EventMapping, event_id: str,
         claimed: list[str]) -> Cooldown | None:
    """Take the mapping's cooldown for this event; the cooldown another event holds, else None."""
    if not mapping.cooldown_s:
        return None
    key = cooldown_key(mapping)
    # SET NX EX is the atomic test-and-claim: two processes cannot both pass it. A cooldown held
    # by this very event is a copy of its own handling (redelivered after a crash): it passes.
    if client.set(key, event_id, nx=True, ex=mapping.cooldown_s):
        claimed.append(key)
        return None
    if _text(client.get(key)) == event_id:
        return None
    # Lapsed between the SET and the TTL: still refused this time (the claim was not ours), but
    # with the whole cooldown named rather than a negative time.
    return _remaining(client, mapping) or Cooldown(
        mapping.pipeline, mapping.cooldown_s, utcnow() + timedelta(seconds=mapping.cooldown_s))


def held(client: redis.Redis, mappings: Iterable[EventMapping]) -> list[Cooldown]:
    """The cooldowns currently held among mappings (read only: the web tells a sender early)."""
    found = (_remaining(client, m) for m in mappings if m.cooldown_s)
    return [cooldown for cooldown in found if cooldown is not None]


__all__ = ["Cooldown", "cooldown_key", "held", "take"]
