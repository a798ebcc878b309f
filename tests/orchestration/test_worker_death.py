"""A SIGKILLed worker's task resumes on another worker within about a minute, paid at most once more.

Real worker processes (threads pool), a real server, the real SDK against the HTTP fake; the
default MT_HEARTBEAT_TIMEOUT (30 s, in the slow suite) and a shortened one (5 s, in the default suite).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import redis

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.runtime import build_runtime
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.control import ping_workers
from marketing_team.testing.fake_anthropic import FakeAnthropic, RecordedRequest
from marketing_team.testing.invariants import unaccounted_goals
from marketing_team.testing.processes import spawn_worker, stop, wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team_responder import offline_responder, skill_of

KEY = "sk-ant-test-death-0000"


@pytest.mark.parametrize("heartbeat_timeout", [
    pytest.param(None, marks=pytest.mark.slow, id="default-30s"),
    pytest.param("5", id="5s"),
])
def test_sigkill_of_a_whole_worker_mid_call_the_other_worker_finishes_within_90_s(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path,
        heartbeat_timeout: str | None) -> None:
    slow: list[int] = []

    def delay(request: RecordedRequest) -> float:
        if skill_of(request) == "copywriting" and not slow:
            slow.append(os.getpid())
            return 20.0  # long enough to die in
        return 0.0

    with FakeAnthropic(responder=offline_responder(delay)) as fake:
        env = {"REDIS_URL": redis_server.url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.url,
               "MT_LLM_MAX_RETRIES": "0", "LOG_LEVEL": "WARNING",
               **({"MT_HEARTBEAT_TIMEOUT": heartbeat_timeout} if heartbeat_timeout else {})}
        workers = {name: spawn_worker({**env, "WORKSPACE_DIR": str(tmp_path / name)},
                                      tmp_path / f"{name}.log", name=name) for name in ("w1", "w2")}
        try:
            settings = load_settings(_env_file=None, redis_url=redis_server.url,
                                     anthropic_api_key=KEY, anthropic_base_url=fake.url,
                                     workspace_dir=tmp_path / "cli", llm_max_retries=0)
            app = build_app(settings, redis_server.broker_url)
            wait_for(lambda: {"w1", "w2"} <= {n.split("@")[0] for n in ping_workers(app, 1.0, False)},
                     60, "both workers")
            rt = build_runtime(settings, redis_server.broker_url)
            goal = plan_pipeline(rt, "Copywriting Review Chain", Priority.P1)
            rt.goals.create(goal)
            dispatch.start(app, rt, goal.id)
            wait_for(lambda: slow, 60, "the copywriting call")

            # When the worker whose thread is inside that call is killed outright
            holder = wait_for(lambda: _holder_pid(redis_client), 30, "the copywriting lease")
            victim = next(w for w in workers.values() if w.pid == holder)
            os.killpg(victim.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            assert unaccounted_goals(rt) == []  # its lease (lapsing now) still names the goal

            # Then the other worker takes the task over and the goal completes within 90 s
            done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 90,
                            "the goal after the kill")
            elapsed = time.monotonic() - killed_at
        finally:
            for proc in workers.values():
                stop(proc)
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert elapsed < 90
    calls = [skill_of(r) for r in fake.requests]
    assert calls.count("copywriting") <= 2  # at most one repeated model call
    assert all(calls.count(t.skill) == 1 for t in done.tasks if t.skill != "copywriting")


def _holder_pid(client: redis.Redis) -> int | None:
    """The pid of the worker process holding copywriting's lease (its value names the holder)."""
    for key in client.scan_iter("mt:lease:skill:copywriting-*"):
        holder = (client.hget(key, "holder") or b"").decode()
        parts = holder.split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            return int(parts[1])
    return None
