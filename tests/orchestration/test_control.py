"""Asking the workers who is there: a ping outlives a connection that drops under it, and a broker
that stays away is one typed error naming it (health, the desk's status and `mtctl` ask this way)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.control import CeleryApp, ping_workers
from marketing_team.testing.fault_proxy import FaultProxy
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def _asker(proxy: FaultProxy, tmp_path: Path) -> CeleryApp:
    """An app that reaches the server only through the proxy."""
    settings = load_settings(_env_file=None, workspace_dir=tmp_path / "asker", redis_url=proxy.url)
    return build_app(settings, proxy.url)


def _ask(app: CeleryApp, timeout_s: float, outcome: list[object],
         ended: list[float] | None = None) -> threading.Thread:
    """Ping from a thread of its own; outcome gets the names or the exception, ended its time."""
    def ask() -> None:
        try:
            outcome.append(ping_workers(app, timeout_s))
        except Exception as exc:  # noqa: BLE001 - the assertions say what it should have been
            outcome.append(exc)
        if ended is not None:
            ended.append(time.monotonic())

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


def _waiting_for_answers(client: redis.Redis, proxy: FaultProxy) -> bool:
    """True while the asker (through the proxy) is blocked reading its answers (BRPOP)."""
    asker = proxy.upstream_addresses()
    return any("b" in entry["flags"] and entry["addr"] in asker for entry in client.client_list())


def test_a_ping_whose_connection_drops_while_it_waits_for_answers_asks_again(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    with FaultProxy.in_front_of(redis_server) as proxy:
        # Given an asker waiting for answers, through a proxy, before any worker ran
        outcome: list[object] = []
        asking = _ask(_asker(proxy, tmp_path), 20.0, outcome)
        wait_for(lambda: _waiting_for_answers(redis_client, proxy), 10, "the asker to wait for answers")
        with Team(redis_server, tmp_path / "ws", OfflineProvider()) as team:
            # and a worker that started after the ping went out (it never saw that one)
            names = wait_for(lambda: ping_workers(team.app, 1.0), 30, "the worker")

            # When the asker's connections drop (a server restart, a network blip)
            proxy.drop()
            asking.join(30)

    # Then the asker asked again, and the worker answered
    assert outcome == [names]


def test_a_ping_whose_broker_stays_away_is_broker_unavailable_naming_it(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    with FaultProxy.in_front_of(redis_server) as proxy:
        # Given an asker waiting for answers, through a proxy
        outcome: list[object] = []
        ended: list[float] = []
        asking = _ask(_asker(proxy, tmp_path), 5.0, outcome, ended)
        wait_for(lambda: _waiting_for_answers(redis_client, proxy), 10, "the asker to wait for answers")

        # When the connection drops and nothing answers at that address any more
        closed_at = time.monotonic()
        proxy.close()
        asking.join(60)

    # Then the ping fails as the broker being unavailable, naming where it asked
    assert len(outcome) == 1 and isinstance(outcome[0], BrokerUnavailableError), outcome
    assert f"127.0.0.1:{proxy.port}" in str(outcome[0])
    # within about its own time: kombu's reconnect loop (its connect timeout and back-off, ~6 s)
    # is not waited out by a health check whose server went away
    assert ended[0] - closed_at < 3.0
