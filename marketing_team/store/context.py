"""The product context every skill reads, kept in Redis (the user's context/product.md is its source)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from marketing_team.domain.product_template import usable_context
from marketing_team.domain.values import utcnow
from marketing_team.store.connection import RedisConnection

KEY = "mt:context:product"
SENT = "mt:context:sent"  # source -> hash of what that source last sent (one field per source)


def fingerprint(text: str) -> str:
    """A short hash of a context text, to tell whether a file changed since it was sent."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ContextRecord:
    """The stored context: its text, its hash, where it came from and when."""

    text: str
    sha: str
    source: str
    updated_at: str


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class ContextStore:
    """Read and replace the product context."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def get(self) -> str:
        """The context skills read: the stored text without the template's comments and empty
        sections, or "" when none was sent or it is the unfilled template (see `record` for the
        text as sent)."""
        return self.decode(self.connection.client.hget(KEY, "text"))

    @staticmethod
    def queue_get(pipe: redis.client.Pipeline) -> None:
        """Queue get's read on a caller's pipeline; its answer goes to decode."""
        pipe.hget(KEY, "text")

    @staticmethod
    def decode(raw: bytes | str | None) -> str:
        """The usable context in a stored text as read (see get)."""
        return usable_context(_text(raw))

    def record(self) -> ContextRecord | None:
        """The stored context with its hash and source, or None."""
        raw = self.connection.client.hgetall(KEY)
        if not raw:
            return None
        data = {_text(k): _text(v) for k, v in raw.items()}
        return ContextRecord(data.get("text", ""), data.get("sha", ""), data.get("source", ""),
                             data.get("updated_at", ""))

    def set(self, text: str, source: str) -> ContextRecord:
        """Replace the context (source: the file or command it came from)."""
        record = ContextRecord(text, fingerprint(text), source, utcnow().isoformat())
        with self.connection.client.pipeline(transaction=True) as pipe:
            pipe.hset(KEY, mapping={"text": record.text, "sha": record.sha,
                                    "source": record.source, "updated_at": record.updated_at})
            pipe.hset(SENT, source, record.sha)
            pipe.execute()
        return record

    def last_sent_by(self, source: str) -> str | None:
        """The hash of what source last sent, whatever was sent since from elsewhere."""
        raw = self.connection.client.hget(SENT, source)
        return None if raw is None else _text(raw)
