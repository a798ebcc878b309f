"""A goal's documents in Redis: deliverables and reviews by name, as the export writes them.

Names are paths inside the goal's folder (`01-seo-audit.md`, `reviews/01-seo-audit.review.md`);
they expire with the goal's state.
"""

from __future__ import annotations

import re

from marketing_team.domain.errors import InputError
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goals import docs_key

_NAME = re.compile(r"^(?:[a-z]+/)?[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.md$")


def check_name(name: str) -> str:
    """Return name if it is a safe document name (a file in the goal folder or one level down)."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise InputError(f"malformed document name: {name!r}")
    return name


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class DocumentStore:
    """Put, get and list a goal's documents (one hash per goal)."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def put(self, goal_id: str, name: str, text: str) -> None:
        """Store (or replace) one document; the same name and text twice is harmless."""
        self.connection.client.hset(docs_key(goal_id), check_name(name), text)

    def get(self, goal_id: str, name: str) -> str | None:
        """One document's text, or None."""
        raw = self.connection.client.hget(docs_key(goal_id), check_name(name))
        return None if raw is None else _text(raw)

    def all(self, goal_id: str) -> dict[str, str]:
        """Every document of the goal by name."""
        raw = self.connection.client.hgetall(docs_key(goal_id))
        return {_text(k): _text(v) for k, v in raw.items()}
