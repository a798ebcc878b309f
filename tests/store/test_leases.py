"""Leases: one holder per step, kept alive by its heartbeat, freed when the holder is gone."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading

import pytest
import redis

from marketing_team.store.leases import DUE, Leases, keeper, lease_key
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer

HOLD = """
import sys, redis
from marketing_team.store.leases import Leases
leases = Leases(redis.Redis.from_url(sys.argv[1]), 30)
assert leases.claim("skill", "goal-20260101-000001", "copywriting-20260101-000001", 0, 1)
print("held", flush=True)
sys.stdin.read()  # hold it until killed
"""


def test_a_held_lease_refuses_a_second_holder_until_released(redis_client: redis.Redis) -> None:
    leases = Leases(redis_client, 30)
    first = leases.claim("skill", "g", "t", 0, 1)
    assert first is not None
    assert leases.claim("skill", "g", "t", 0, 1) is None
    assert leases.alive("skill", "t", 0)
    leases.release(first)
    again = leases.claim("skill", "g", "t", 0, 1)
    assert again is not None
    leases.release(again)


def test_a_lease_whose_heartbeat_stopped_is_taken_over_by_exactly_one_sweeper(
        redis_client: redis.Redis) -> None:
    leases = Leases(redis_client, 30)
    held = leases.claim("review", "g", "t", 2, 1)
    assert held is not None and leases.lapsed() == []
    keeper(leases).drop(held)  # the holder stops renewing (its process froze or died)
    redis_client.zadd(DUE, {held.key: 1})  # and its last renewal is long past

    [lapsed] = leases.lapsed()
    wins = []
    barrier = threading.Barrier(4)

    def take() -> None:
        barrier.wait()
        wins.append(leases.take_over(lapsed))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    [taken] = [won for won in wins if won is not None]
    assert len(wins) == 4
    assert (lapsed.kind, lapsed.run, lapsed.revision) == ("review", 1, 2)
    # The taker holds the step while it republishes it, then lets it go for the new copy
    assert leases.alive("review", "t", 2) and leases.lapsed() == []
    leases.release(taken)
    assert not leases.alive("review", "t", 2)


def test_a_lease_of_a_process_killed_on_this_machine_is_free_at_once(
        redis_server: RunningServer, redis_client: redis.Redis) -> None:
    # Given a lease held by another process of this machine
    holder = subprocess.Popen([sys.executable, "-c", HOLD, redis_server.url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        leases = Leases(redis_client, 30)
        assert leases.claim("skill", "goal-20260101-000001", "copywriting-20260101-000001", 0, 1) is None

        # When it is SIGKILLed (its heartbeat would only lapse 30 s later)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)

        # Then the next claim takes the lease without waiting for the heartbeat timeout
        taken = wait_for(lambda: leases.claim("skill", "goal-20260101-000001",
                                              "copywriting-20260101-000001", 0, 1), 5, "the lease")
        leases.release(taken)
    finally:
        holder.kill()
        holder.wait(10)


def test_a_lease_held_on_another_machine_is_left_to_its_heartbeat(redis_client: redis.Redis) -> None:
    leases = Leases(redis_client, 30)
    key = lease_key("skill", "t", 0)
    # A holder whose pid does not exist here, but in another machine's pid space
    redis_client.hset(key, mapping={"token": "x", "goal_id": "g", "task_id": "t", "run": "1",
                                    "kind": "skill", "revision": "0",
                                    "holder": "elsewhere:999999:1", "space": "another-boot/1"})
    redis_client.zadd(DUE, {key: 4_000_000_000})
    assert leases.claim("skill", "g", "t", 0, 1) is None


def test_a_lease_released_while_a_heartbeat_runs_is_not_reported_lost(
        redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    # Given a heartbeat that began while a step still held its lease
    leases = Leases(redis_client, timeout_s=30)
    lease = leases.claim("skill", "goal-20261130-aaaaaa", "copywriting-20261130-aaaaaa", 0, 0)
    assert lease is not None
    beating = [lease]

    # When the step ends (releasing it) before the heartbeat reaches it
    leases.release(lease)
    with caplog.at_level(logging.WARNING, logger="marketing_team.store.leases"):
        keeper(leases).beat(beating)

    # Then no one is told the lease was taken over: it was given back
    assert [r.getMessage() for r in caplog.records] == []


def test_a_lease_taken_by_another_holder_is_reported_lost_once(
        redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    leases = Leases(redis_client, timeout_s=30)
    lease = leases.claim("skill", "goal-20261130-bbbbbb", "copywriting-20261130-bbbbbb", 0, 0)
    assert lease is not None
    redis_client.delete(lease.key)  # its lapse, as another holder's take-over would leave it

    with caplog.at_level(logging.WARNING, logger="marketing_team.store.leases"):
        keeper(leases).beat([lease])
        keeper(leases).beat([lease])

    assert [r.getMessage() for r in caplog.records] == ["lease taken over"]
