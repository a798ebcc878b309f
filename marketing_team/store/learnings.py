"""Learnings: appended as markdown for people and as per-skill/per-category JSON lines read from the tail."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from marketing_team.domain.errors import CorruptFileError
from marketing_team.domain.goal import Category
from marketing_team.domain.learning import Learning
from marketing_team.store.workspace import Workspace, file_lock

_SAFE = re.compile(r"[^a-z0-9-]")


def _tail_lines(path: Path, limit: int, block: int = 16384) -> list[bytes]:
    """The last `limit` lines of a file, newest first, reading backwards in blocks."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        buffer = b""
        while position > 0 and buffer.count(b"\n") <= limit:
            step = min(block, position)
            position -= step
            handle.seek(position)
            buffer = handle.read(step) + buffer
    lines = [line for line in buffer.split(b"\n") if line.strip()]
    if position > 0:
        lines = lines[1:]  # the first line may be cut
    return list(reversed(lines))[:limit]


class LearningStore:
    """Append and read learnings; reads cost O(limit), not O(all learnings)."""

    def __init__(self, workspace: Workspace) -> None:
        self.root = workspace.memory_dir

    def _index(self, kind: str, key: str) -> Path:
        return self.root / "index" / f"{kind}-{_SAFE.sub('_', key.lower())}.jsonl"

    def append(self, learning: Learning) -> None:
        """Record a learning in the markdown log and in its skill and category indexes."""
        line = learning.model_dump_json() + "\n"
        targets = [self._index("skill", learning.skill), self.root / "learnings.jsonl"]
        if learning.category is not None:
            targets.append(self._index("category", learning.category.value))
        entry = (f"\n## {learning.timestamp:%Y-%m-%d %H:%M} · {learning.skill} · {learning.outcome}\n"
                 f"- Goal: {learning.goal_id or '—'}\n- Lesson: {learning.lesson}\n"
                 + (f"- Action: {learning.action}\n" if learning.action else "")
                 + (f"- Tags: {', '.join(learning.tags)}\n" if learning.tags else ""))
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(self.root / ".lock"):
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a", encoding="utf-8") as handle:
                    handle.write(line)
            with (self.root / "learnings.md").open("a", encoding="utf-8") as handle:
                handle.write(entry)

    def _read(self, path: Path, limit: int) -> list[Learning]:
        out = []
        for raw in _tail_lines(path, limit):
            try:
                out.append(Learning.model_validate_json(raw))
            except ValidationError:
                raise CorruptFileError(f"{path}: a line is not a valid learning") from None
        return out

    def for_skill(self, skill: str, limit: int = 10) -> list[Learning]:
        """The newest learnings attributed to a skill, newest first."""
        return self._read(self._index("skill", skill), limit)

    def for_category(self, category: Category, limit: int = 10) -> list[Learning]:
        """The newest learnings of goals in a category, newest first."""
        return self._read(self._index("category", category.value), limit)

    def recent(self, limit: int = 50) -> list[Learning]:
        """The newest learnings of all skills, newest first."""
        return self._read(self.root / "learnings.jsonl", limit)

    def __iter__(self) -> Iterator[Learning]:
        return iter(self.recent(limit=10**9))
