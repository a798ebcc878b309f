"""Review items: one broken record never hides the others, and decided items do not pile up."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import redis

from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.domain.values import utcnow
from marketing_team.store.connection import RedisConnection
from marketing_team.store.review_items import ALL, ReviewQueue, item_key
from marketing_team.testing.servers import RunningServer

RETENTION_S = 3600


@pytest.fixture
def queue(redis_server: RunningServer, redis_client: redis.Redis) -> ReviewQueue:
    return ReviewQueue(RedisConnection(redis_server.url), RETENTION_S)


def test_a_corrupt_item_is_skipped_with_a_warning_naming_its_key(
        queue: ReviewQueue, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    good = queue.new_item("goal-20261129-aaaaaa", Reason.REJECTED, "good")
    bad = queue.new_item("goal-20261129-bbbbbb", Reason.REJECTED, "bad")
    queue.save(good)
    queue.save(bad)
    redis_client.set(item_key(bad.id), b"\xff not json")

    with caplog.at_level(logging.WARNING):
        listed = queue.list(ItemStatus.OPEN)

    assert [item.id for item in listed] == [good.id]
    assert any(item_key(bad.id) in record.getMessage() for record in caplog.records)


def test_decided_items_leave_the_index_once_their_retention_passed(
        queue: ReviewQueue, redis_client: redis.Redis) -> None:
    old = queue.new_item("goal-20261129-aaaaaa", Reason.REJECTED, "old")
    old.created_at = utcnow() - timedelta(seconds=RETENTION_S + 60)
    old.status, old.decided_at = ItemStatus.APPROVED, old.created_at
    queue.save(old)
    redis_client.delete(item_key(old.id))  # expired, as Redis does after the retention
    still_open = queue.new_item("goal-20261129-bbbbbb", Reason.REJECTED, "ancient but open")
    still_open.created_at = old.created_at
    queue.save(still_open)

    queue.save(queue.new_item("goal-20261129-cccccc", Reason.REJECTED, "new"))

    assert redis_client.zscore(ALL, old.id) is None
    assert redis_client.zscore(ALL, still_open.id) is not None  # open items wait for a person
    assert redis_client.zcard(ALL) == 2
