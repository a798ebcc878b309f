"""SIGKILL the process running a skill, ten times across ten goals: every goal completes, ≤ 1 extra call per kill."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from marketing_team.domain.goal import GoalStatus
from marketing_team.testing.fake_anthropic import FakeAnthropic, RecordedRequest
from marketing_team.testing.processes import children, spawn_worker, stop, wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import beside, start_pipeline
from marketing_team.testing.team_responder import offline_responder

KEY = "sk-ant-test-kills"
KILLS = 10
SLOW_S = 1.5


def test_reliability_ten_kills_mid_skill_every_goal_completes(
        redis_server: RunningServer, redis_client: object, tmp_path: Path) -> None:
    in_flight = threading.Event()
    slow_marks: list[int] = []
    lock = threading.Lock()

    def delay(request: RecordedRequest) -> float:
        # The first draft of each goal's third step is slow: that is when we kill.
        with lock:
            if "ReviewReply" not in request.text() and "produce the copywriting" in request.text() \
                    and len(slow_marks) < KILLS:
                slow_marks.append(1)
                in_flight.set()
                return SLOW_S
        return 0.0

    with FakeAnthropic(responder=offline_responder(delay)) as fake:
        env = {"REDIS_URL": redis_server.url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.url,
               "WORKSPACE_DIR": str(tmp_path / "ws"), "MT_LLM_MAX_RETRIES": "0", "LOG_LEVEL": "WARNING"}
        # One pool process: each kill interrupts exactly one call.
        worker = spawn_worker(env, tmp_path / "worker.log", pool="prefork", concurrency=1)
        try:
            rt, app = beside(redis_server, tmp_path / "ws", anthropic_api_key=KEY,
                             anthropic_base_url=fake.url)
            goals = []
            for _ in range(KILLS):
                in_flight.clear()
                goal = start_pipeline(rt, app, "Copywriting Review Chain")
                goals.append(goal.id)
                wait_for(in_flight.is_set, 60, "a skill call in flight")
                for pid in children(worker.pid):
                    os.kill(pid, signal.SIGKILL)
            finished = [wait_for(lambda gid=gid: (g := rt.goals.load(gid)).status.is_settled and g, 120,
                                 f"goal {gid}") for gid in goals]
        finally:
            stop(worker)
        sent = len(fake.requests)

    assert [g.status for g in finished] == [GoalStatus.COMPLETED] * KILLS
    # Every task is drafted and reviewed once (all approve first time); the rest are repeats.
    needed = sum(2 * len(g.tasks) for g in finished)
    assert all(t.revision == 0 for g in finished for t in g.tasks)
    assert sent - needed <= KILLS  # at most one repeated call per kill
