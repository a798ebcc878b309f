"""Human review items in Redis: escalations wait there for a person to approve, revise or reject.

An item is created in the same transaction as the goal update that blocks its task, so a crash
can never leave a goal waiting for a person with no item to decide.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from pydantic import ValidationError

from marketing_team.domain.errors import CorruptStateError, InputError, NotFoundError
from marketing_team.domain.review_item import ItemStatus, Reason, ReviewItem
from marketing_team.domain.values import check_id, new_id, utcnow
from marketing_team.store.connection import RedisConnection

log = logging.getLogger(__name__)
OPEN = "mt:reviews:open"  # created (ms) -> id, open items only
ALL = "mt:reviews:all"  # created (ms) -> id, every item kept
PRUNE_BATCH = 50


def item_key(item_id: str) -> str:
    """Where one item is kept."""
    return f"mt:review:{check_id(item_id, 'review id')}"


class StagedItem:
    """An item written in the same transaction as a goal change (created or decided)."""

    def __init__(self, item: ReviewItem, retention_s: int) -> None:
        self.item = item
        self.retention_s = retention_s

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """SET the item and keep the indexes in step; a decided item expires with the retention."""
        created = int(self.item.created_at.timestamp() * 1000)
        key = item_key(self.item.id)
        pipe.set(key, self.item.model_dump_json())
        pipe.zadd(ALL, {self.item.id: created})
        if self.item.status is ItemStatus.OPEN:
            pipe.zadd(OPEN, {self.item.id: created})
        else:
            pipe.zrem(OPEN, self.item.id)
            pipe.expire(key, self.retention_s)


def _decode(item_id: str, raw: bytes | str | None) -> ReviewItem:
    if raw is None:
        raise NotFoundError(f"unknown review item {item_id}")
    try:
        return ReviewItem.model_validate_json(raw)
    except ValidationError:
        raise CorruptStateError(f"{item_key(item_id)}: not a valid review item") from None


class ReviewQueue:
    """Create, read, list and decide review items."""

    def __init__(self, connection: RedisConnection, retention_s: int) -> None:
        self.connection = connection
        self.retention_s = retention_s

    @staticmethod
    def new_item(goal_id: str, reason: Reason, summary: str, task_id: str | None = None,
                 skill: str | None = None, deliverable: str | None = None) -> ReviewItem:
        """A new open item (not stored yet)."""
        return ReviewItem(id=new_id("review"), goal_id=goal_id, task_id=task_id, skill=skill,
                          reason=reason, summary=summary, deliverable=deliverable)

    def staged(self, item: ReviewItem) -> StagedItem:
        """The write of item, for a goal transaction to commit with its state change."""
        return StagedItem(item, self.retention_s)

    def save(self, item: ReviewItem) -> None:
        """Store an item on its own (outside a goal transaction)."""
        with self.connection.client.pipeline(transaction=True) as pipe:
            self.staged(item).stage(pipe)
            pipe.execute()
        self.prune()

    def prune(self) -> int:
        """Drop items older than the retention from the index of all items (open ones stay).

        A decided item's record expires on its own; its index entry goes here, a batch at a time
        (called as items are saved and listed), so the index stays bounded by the retention.
        """
        client = self.connection.client
        cutoff = int((time.time() - self.retention_s) * 1000)
        old = [raw.decode() if isinstance(raw, bytes) else str(raw)
               for raw in client.zrangebyscore(ALL, "-inf", cutoff, start=0, num=PRUNE_BATCH)]
        if not old:
            return 0
        with client.pipeline(transaction=False) as pipe:
            for raw in old:
                pipe.zscore(OPEN, raw)
            still_open = pipe.execute()
        gone = [raw for raw, score in zip(old, still_open, strict=True) if score is None]
        if gone:
            client.zrem(ALL, *gone)
        return len(gone)

    def load(self, item_id: str) -> ReviewItem:
        """One item; NotFoundError when unknown, CorruptStateError naming a broken record."""
        return _decode(item_id, self.connection.client.get(item_key(item_id)))

    def count(self, status: ItemStatus | None = None) -> int:
        """How many items the index list() reads holds (open ones, or every kept one)."""
        return int(self.connection.client.zcard(OPEN if status is ItemStatus.OPEN else ALL))

    def list(self, status: ItemStatus | None = None, limit: int = 100,
             offset: int = 0) -> list[ReviewItem]:
        """Items, newest first: the open ones from their index, or every kept one."""
        index = OPEN if status is ItemStatus.OPEN else ALL
        client = self.connection.client
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw)
               for raw in client.zrevrange(index, offset, offset + limit - 1)]
        if not ids:
            return []
        items = []
        for item_id, raw in zip(ids, client.mget([item_key(i) for i in ids]), strict=True):
            if raw is None:  # expired: drop it from the indexes as we go
                client.zrem(ALL, item_id)
                client.zrem(OPEN, item_id)
                continue
            try:
                item = _decode(item_id, raw)
            except CorruptStateError as exc:  # one broken record never hides the others
                log.warning(f"skipped a review item: {exc}",
                            extra={"event": "review_item_unreadable", "item_id": item_id})
                continue
            if status is None or item.status is status:
                items.append(item)
        self.prune()
        return items

    def every(self, status: ItemStatus | None = None, page: int = 500) -> Iterator[ReviewItem]:
        """Every kept item (or every open one), newest first: a page of the index per round trip,
        however many there are (an expired or broken record is skipped; the index is left to
        `list` and `prune`)."""
        client = self.connection.client
        index = OPEN if status is ItemStatus.OPEN else ALL
        offset = 0
        while ids := [raw.decode() if isinstance(raw, bytes) else str(raw)
                      for raw in client.zrevrange(index, offset, offset + page - 1)]:
            offset += len(ids)
            for item_id, raw in zip(ids, client.mget([item_key(i) for i in ids]), strict=True):
                try:
                    item = None if raw is None else _decode(item_id, raw)
                    if item is not None and (status is None or item.status is status):
                        yield item
                except CorruptStateError as exc:
                    log.warning(f"skipped a review item: {exc}",
                                extra={"event": "review_item_unreadable", "item_id": item_id})

    def decided(self, item: ReviewItem, status: ItemStatus, notes: str = "") -> ReviewItem:
        """The item as decided by a person (not stored: the caller commits it with the goal)."""
        if item.status is not ItemStatus.OPEN:
            raise InputError(f"review item {item.id} is already {item.status.value}")
        return item.model_copy(update={"status": status, "notes": notes, "decided_at": utcnow()})
