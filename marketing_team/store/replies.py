"""Model replies stored by (goal, task, revision), so a redelivered task reuses instead of paying again.

The store keeps each reply as the JSON its owner hands in; the meter (budget layer) turns it back
into a reply and re-validates it against the call's schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from marketing_team.domain.errors import CorruptFileError
from marketing_team.store.workspace import atomic_write


def reply_key(goal_id: str, task_id: str, revision: int, purpose: str) -> str:
    """The cache key of one LLM call; the delivery attempt is deliberately not part of it."""
    return f"{goal_id}/{task_id}/r{revision}/{purpose}"


class ReplyStore:
    """One JSON file per key under a directory, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, key: str) -> Path:
        """The file holding the reply for key (a hash, so any key is a safe file name)."""
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply's JSON object, or None; a file that cannot be read back is CorruptFileError."""
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("reply"), dict):
                raise ValueError("the file does not hold a reply for this key")
        except ValueError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CorruptFileError(f"reply cache file {path} is corrupt: {reason}") from None
        reply: dict[str, Any] = data["reply"]
        return reply

    def put(self, key: str, reply: dict[str, Any]) -> None:
        """Store a reply's JSON object under key."""
        record = {"key": key, "reply": reply}
        atomic_write(self.path_for(key), json.dumps(record, indent=2, ensure_ascii=False) + "\n")
