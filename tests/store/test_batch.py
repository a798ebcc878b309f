"""A batch: commands of different stores and scripts in one round trip, scripts loaded on demand."""

from __future__ import annotations

import pytest
import redis

from marketing_team.store.batch import Batch

_INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def test_batch_answers_in_order_with_a_script_among_plain_commands(redis_client: redis.Redis) -> None:
    script = redis_client.register_script(_INCR_BY)
    batch = Batch(redis_client)
    batch.pipe.set("b:plain", "1")
    index = batch.script(script, ["b:counter"], [5])
    batch.pipe.get("b:plain")

    answers = batch.execute()

    assert index == 1 and answers == [True, 5, b"1"]


def test_batch_runs_a_script_the_server_forgot_once(redis_client: redis.Redis) -> None:
    # Given a script the server no longer knows (a restart, SCRIPT FLUSH)
    script = redis_client.register_script(_INCR_BY)
    script(keys=["b:counter"], args=[1])
    redis_client.script_flush()

    batch = Batch(redis_client)
    batch.script(script, ["b:counter"], [2])
    answers = batch.execute()

    # Then it was loaded and run exactly once
    assert answers == [3] and int(redis_client.get("b:counter") or 0) == 3


def test_batch_raises_a_command_error_after_the_others_ran(redis_client: redis.Redis) -> None:
    redis_client.set("b:text", "not a number")
    batch = Batch(redis_client)
    batch.pipe.incr("b:text")
    batch.pipe.set("b:after", "1")

    with pytest.raises(redis.ResponseError):
        batch.execute()
    assert redis_client.get("b:after") == b"1"
