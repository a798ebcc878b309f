"""The reply store: set once per key, expiring; a corrupt record is named by its key."""

from __future__ import annotations

import pytest
import redis

from marketing_team.domain.errors import CorruptStateError
from marketing_team.store.connection import RedisConnection
from marketing_team.store.replies import ReplyStore, redis_key
from marketing_team.testing.servers import RunningServer


@pytest.fixture
def store(redis_server: RunningServer, redis_client: redis.Redis) -> ReplyStore:
    """A reply store on the session server (empty), keeping replies an hour."""
    return ReplyStore(RedisConnection(redis_server.url), ttl_s=3600)


def test_reply_store_round_trips_the_object_it_was_given_and_keeps_the_first(
        store: ReplyStore, redis_client: redis.Redis) -> None:
    reply = {"text": "x", "stop_reason": "max_tokens", "usage": {"input_tokens": 1},
             "cost_usd": "0.123457", "unicode": "é — ✓"}

    assert store.put("k", reply) is True
    assert store.put("k", {"text": "a second answer"}) is False  # the first paid answer wins

    assert store.get("k") == reply
    assert store.get("other") is None
    assert 0 < redis_client.ttl(redis_key("k")) <= 3600


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"key": "k", "reply": "text"}', '{"key": "someone else", "reply": {}}'],
)
def test_reply_store_corrupt_record_is_an_error_naming_its_key(
        store: ReplyStore, redis_client: redis.Redis, content: str) -> None:
    redis_client.set(redis_key("k"), content)

    with pytest.raises(CorruptStateError, match=redis_key("k")):
        store.get("k")
