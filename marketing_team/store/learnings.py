"""Learnings in Redis: capped lists per skill, per category and overall, newest first.

Bounded by design: a prompt reads at most 10 per skill, planning at most 10 per category, so a
few hundred kept per list is plenty and nothing grows with the number of goals.
"""

from __future__ import annotations

import logging
import re

import redis
from pydantic import ValidationError

from marketing_team.domain.goal import Category
from marketing_team.domain.learning import Learning
from marketing_team.store.connection import RedisConnection

log = logging.getLogger(__name__)
PER_SKILL = 200
PER_CATEGORY = 200
RECENT = 1000
_SAFE = re.compile(r"[^a-z0-9-]")


def _key(kind: str, name: str, offline: bool = False) -> str:
    # Offline lessons live in their own lists: filler can neither reach a real prompt nor push
    # real lessons out of a capped list.
    return f"mt:learnings:{'offline:' if offline else ''}{kind}:{_SAFE.sub('_', name.lower())}"


RECENT_KEY = "mt:learnings:recent"


class StagedLearning:
    """A learning appended in the same transaction as the state change that taught it."""

    def __init__(self, learning: Learning) -> None:
        self.learning = learning

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """LPUSH to the skill, category and recent lists, each trimmed to its cap."""
        line = self.learning.model_dump_json()
        offline = self.learning.offline
        targets = [(_key("skill", self.learning.skill, offline), PER_SKILL), (RECENT_KEY, RECENT)]
        if self.learning.category is not None:
            targets.append((_key("category", self.learning.category.value, offline), PER_CATEGORY))
        for key, cap in targets:
            pipe.lpush(key, line)
            pipe.ltrim(key, 0, cap - 1)


class LearningStore:
    """Append and read learnings; reads cost O(limit), never O(all learnings)."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection

    def staged(self, learning: Learning) -> StagedLearning:
        """The append, for a goal transaction to commit with its state change."""
        return StagedLearning(learning)

    def append(self, learning: Learning) -> None:
        """Record a learning on its own (outside a goal transaction)."""
        with self.connection.client.pipeline(transaction=True) as pipe:
            StagedLearning(learning).stage(pipe)
            pipe.execute()

    def _read(self, key: str, limit: int) -> list[Learning]:
        return self.decode(key, self.connection.client.lrange(key, 0, max(0, limit - 1)))

    @staticmethod
    def queue_for_skill(pipe: redis.client.Pipeline, skill: str, limit: int = 10,
                        offline: bool = False) -> None:
        """Queue for_skill's read on a caller's pipeline (decode its answer with skill_key's key)."""
        pipe.lrange(LearningStore.skill_key(skill, offline), 0, max(0, limit - 1))

    @staticmethod
    def skill_key(skill: str, offline: bool = False) -> str:
        """The list of a skill's learnings (offline: of offline runs)."""
        return _key("skill", skill, offline)

    @staticmethod
    def decode(key: str, raws: list[bytes | str]) -> list[Learning]:
        """The learnings in a list read from key (an unreadable entry is skipped, with a warning)."""
        out = []
        for raw in raws:
            try:
                out.append(Learning.model_validate_json(raw))
            except ValidationError:
                # One unreadable entry must not keep every later prompt from its lessons.
                log.warning("unreadable learning skipped", extra={"event": "learning_unreadable",
                                                                   "key": key})
        return out

    def for_skill(self, skill: str, limit: int = 10, offline: bool = False) -> list[Learning]:
        """The newest learnings attributed to a skill, newest first (offline: those of offline runs)."""
        return self._read(self.skill_key(skill, offline), limit)

    def for_category(self, category: Category, limit: int = 10, offline: bool = False) -> list[Learning]:
        """The newest learnings of goals in a category, newest first (offline: of offline runs)."""
        return self._read(_key("category", category.value, offline), limit)

    def recent(self, limit: int = 50) -> list[Learning]:
        """The newest learnings of all skills, newest first (at most RECENT are kept)."""
        return self._read(RECENT_KEY, limit)
