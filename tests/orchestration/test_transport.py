"""Our kombu transport: one command client per channel and connection pool, messages as before."""

from __future__ import annotations

from pathlib import Path

from kombu import Connection

from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import transport
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def test_a_channel_reuses_its_command_client_until_its_pool_is_replaced(
        redis_server: RunningServer) -> None:
    transport.install()
    with Connection(redis_server.broker_url) as connection:
        channel = connection.default_channel
        assert isinstance(channel, transport.Channel)

        first = channel._create_client()
        assert channel._create_client() is first  # one client per channel, not per operation

        channel._disconnect_pools()  # what kombu does after a fork or a failed connect
        renewed = channel._create_client()
        assert renewed is not first and renewed.connection_pool is channel.pool


def test_messages_still_go_through_in_order(redis_server: RunningServer) -> None:
    transport.install()
    with Connection(redis_server.broker_url) as connection:
        queue = connection.SimpleQueue("mt-transport-test")
        for n in range(3):
            queue.put({"n": n})
        got = [queue.get(timeout=5) for _ in range(3)]
        for message in got:
            message.ack()
        queue.close()
    assert [m.payload["n"] for m in got] == [0, 1, 2]


def test_a_goal_published_before_any_worker_declared_a_queue_runs_when_one_starts(
        redis_server: RunningServer, tmp_path: Path) -> None:
    # Publishing declares no queue: the anonymous exchange pushes onto the queue's list itself
    with Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False) as team:
        goal = team.goal("Increase signup conversion by 20%")  # flushed server, no worker yet
        assert not team.rt.redis.keys("_kombu.binding.*")

        worker = InProcessWorker(team.app, concurrency=4).start()
        try:
            done = team.wait(goal.id)
        finally:
            worker.stop(warm=False)
    assert done.status is GoalStatus.COMPLETED
