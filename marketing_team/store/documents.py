"""A goal's documents in Redis: deliverables and reviews by name, as the export writes them.

Names are paths inside the goal's folder (`01-seo-audit.md`, `reviews/01-seo-audit.review.md`);
they expire with the goal's state.
"""

from __future__ import annotations

import logging
import re

import redis

from marketing_team.domain.errors import InputError
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goals import docs_key

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(?:[a-z]+/)?[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.md$")


def check_name(name: str) -> str:
    """Return name if it is a safe document name (a file in the goal folder or one level down)."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise InputError(f"malformed document name: {name!r}")
    return name


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


class StagedDocument:
    """A document written in the same transaction as the goal change that records it."""

    def __init__(self, goal_id: str, name: str, text: str) -> None:
        self.key, self.name, self.text = docs_key(goal_id), check_name(name), text

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """HSET with the change."""
        pipe.hset(self.key, self.name, self.text)


class DocumentStore:
    """Put, get and list a goal's documents (one hash per goal)."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def put(self, goal_id: str, name: str, text: str) -> None:
        """Store (or replace) one document; the same name and text twice is harmless."""
        self.connection.client.hset(docs_key(goal_id), check_name(name), text)

    def staged(self, goal_id: str, name: str, text: str) -> StagedDocument:
        """The write, for a goal transaction to commit with the change that records the document."""
        return StagedDocument(goal_id, name, text)

    def get(self, goal_id: str, name: str) -> str | None:
        """One document's text, or None."""
        raw = self.connection.client.hget(docs_key(goal_id), check_name(name))
        return None if raw is None else _text(raw)

    @staticmethod
    def queue_get_many(pipe: redis.client.Pipeline, goal_id: str, names: list[str]) -> None:
        """Queue the read of several documents on a caller's pipeline; the answer goes to decode_many."""
        pipe.hmget(docs_key(goal_id), [check_name(name) for name in names])

    @staticmethod
    def decode_many(names: list[str], raws: list[bytes | str | None]) -> dict[str, str | None]:
        """Each named document's text (None when missing) from queue_get_many's answer."""
        return {name: None if raw is None else _text(raw) for name, raw in zip(names, raws, strict=True)}

    def all(self, goal_id: str) -> dict[str, str]:
        """Every readable document of the goal by name (a malformed one is skipped with a warning)."""
        found: dict[str, str] = {}
        for raw_name, raw_text in self.connection.client.hgetall(docs_key(goal_id)).items():
            name = raw_name.decode("utf-8", "replace") if isinstance(raw_name, bytes) else raw_name
            try:
                found[check_name(name)] = _text(raw_text)
            except (InputError, UnicodeDecodeError) as exc:
                problem = str(exc) if isinstance(exc, InputError) else "not UTF-8 text"
                log.warning(f"skipped document {name!r} of goal {goal_id}: {problem}",
                            extra={"event": "document_unreadable", "goal_id": goal_id})
        return found
