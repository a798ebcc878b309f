"""Replies stored by (goal, task, revision), so a redelivered task reuses instead of paying again."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from pydantic import BaseModel, ValidationError

from marketing_team.errors import CorruptFileError, StructuredOutputError
from marketing_team.llm.base import parse_structured
from marketing_team.llm.protocol import LLM, Message, Reply, SystemBlock
from marketing_team.workspace import atomic_write

log = logging.getLogger(__name__)


def reply_key(goal_id: str, task_id: str, revision: int, purpose: str) -> str:
    """The cache key of one LLM call; the delivery attempt is deliberately not part of it."""
    return f"{goal_id}/{task_id}/r{revision}/{purpose}"


class ReplyCache:
    """One JSON file per key under a directory, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, key: str) -> Path:
        """The file holding the reply for key (a hash, so any key is a safe file name)."""
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str) -> Reply | None:
        """The stored reply, or None; a file that cannot be read back is CorruptFileError."""
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("key") != key:
                raise ValueError("the file does not hold a reply for this key")
            return Reply.model_validate(data["reply"])
        except (ValueError, KeyError, ValidationError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CorruptFileError(f"reply cache file {path} is corrupt: {reason}") from None

    def lookup(self, key: str, schema: type[BaseModel] | None = None) -> Reply | None:
        """The stored reply as an answer to this call: re-validated against schema, else None."""
        stored = self.get(key)
        if stored is None or schema is None:
            return stored
        try:
            parsed = parse_structured(stored.text, schema)
        except StructuredOutputError as exc:
            # The schema changed since the reply was stored: it no longer answers the call.
            log.warning("stored reply %s no longer validates (%s); calling again", key, exc)
            return None
        return stored.model_copy(update={"parsed": parsed})

    def put(self, key: str, reply: Reply) -> None:
        """Store the reply; `parsed` is left out (callers re-validate from the text)."""
        record = {"key": key, "reply": reply.model_dump(mode="json", exclude={"parsed"})}
        atomic_write(self.path_for(key), json.dumps(record, indent=2, ensure_ascii=False) + "\n")


class CachedLLM:
    """An LLM that answers one key from the cache, calling the inner LLM only on a miss."""

    def __init__(self, inner: LLM, cache: ReplyCache, key: str) -> None:
        self.inner = inner
        self.cache = cache
        self.key = key
        self.name = inner.name
        # True when the last reply came from the cache: its cost was already paid and booked.
        self.from_cache = False

    def complete(
        self,
        system_blocks: list[SystemBlock],
        messages: list[Message],
        model: str,
        max_tokens: int,
        schema: type[BaseModel] | None = None,
    ) -> Reply:
        """The stored reply for the key, else the inner LLM's reply, stored before returning."""
        stored = self.cache.lookup(self.key, schema)
        if stored is not None:
            self.from_cache = True
            return stored
        reply = self.inner.complete(system_blocks, messages, model, max_tokens, schema)
        self.cache.put(self.key, reply)
        self.from_cache = False
        return reply


def cached_complete(
    llm: LLM,
    cache: ReplyCache,
    key: str,
    system_blocks: list[SystemBlock],
    messages: list[Message],
    model: str,
    max_tokens: int,
    schema: type[BaseModel] | None = None,
) -> Reply:
    """One call through the cache: `CachedLLM(llm, cache, key).complete(...)`."""
    return CachedLLM(llm, cache, key).complete(system_blocks, messages, model, max_tokens, schema)
