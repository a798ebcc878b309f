"""A team whose Redis is a unix socket, in either spelling the README lists for REDIS_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_goal
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.llm.offline import OfflineProvider
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.context import runtime_of
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.processes import wait_for
from marketing_team.testing.servers import RunningServer


@pytest.mark.parametrize("scheme", ["unix", "redis+socket"])
def test_a_team_on_a_unix_socket_runs_a_goal_whichever_way_its_url_is_spelled(
        socket_server: RunningServer, tmp_path: Path, scheme: str) -> None:
    # Given REDIS_URL naming the socket as redis-py spells it (unix://) or as kombu does
    assert socket_server.unix_socket is not None
    settings = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", allow_volatile_ledger=True,
                             redis_url=f"{scheme}://{socket_server.unix_socket}")
    app = build_app(settings, llm=OfflineProvider())
    worker = InProcessWorker(app, concurrency=2).start()
    try:
        # When a goal is planned and started the way a command does
        rt = runtime_of(app)
        goal, _ = plan_goal(rt, "Write a launch email", Priority.P1)
        dispatch.publish_goal(app, rt, goal)

        # Then a worker runs it to the end
        done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 60,
                        "the goal to settle")
        assert done.status is GoalStatus.COMPLETED, done.status_reason
    finally:
        worker.stop(warm=False)
