"""Celery runs durably: acks late, prefetch 1, priorities, director queue, limits, watchdog."""

from __future__ import annotations

import threading
from pathlib import Path

from marketing_team.config.settings import load_settings
from marketing_team.domain.goal import Priority
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def test_config_is_durable_and_visibility_exceeds_the_hard_limit() -> None:
    settings = load_settings(_env_file=None, soft_time_limit_s=100, hard_time_limit_s=140)
    conf = build_app(settings, broker_url="redis://127.0.0.1:6379/0").conf

    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (100, 140)
    for options in (conf.broker_transport_options, conf.result_backend_transport_options):
        assert options["visibility_timeout"] > 2 * 140  # above the hard limit and the watchdog timer
    assert conf.broker_transport_options["queue_order_strategy"] == "priority"
    assert conf.task_routes["director.*"]["queue"] == "director"


def test_priorities_p0_is_consumed_before_p3(redis_server: RunningServer, tmp_path: Path) -> None:
    team = Team(redis_server, tmp_path / "ws", OfflineProvider(), worker=False).start()
    seen: list[str] = []
    lock = threading.Lock()

    @team.app.task(name="test.record", shared=False)  # type: ignore[untyped-decorator]
    def record(label: str) -> None:
        with lock:
            seen.append(label)

    try:
        # Given a backlog published while no worker runs: low priority first
        for n in range(5):
            record.apply_async((f"P3-{n}",), priority=Priority.P3.broker_priority, queue="skills")
        for n in range(5):
            record.apply_async((f"P0-{n}",), priority=Priority.P0.broker_priority, queue="skills")
        # When one single-threaded worker drains it
        with InProcessWorker(team.app, concurrency=1):
            wait_for(lambda: len(seen) == 10, 30, "the backlog")
        # Then every P0 task ran before any P3 task
        assert [label[:2] for label in seen] == ["P0"] * 5 + ["P3"] * 5
    finally:
        team.stop()
