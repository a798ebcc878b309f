"""Crashes: a killed worker process or a killed run never loses a goal nor pays twice for a stored reply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.orchestration.canvas import step_signature
from marketing_team.testing.fake_anthropic import FakeAnthropic, RecordedRequest
from marketing_team.testing.processes import (
    child_env,
    children,
    spawn,
    spawn_worker,
    stop,
    wait_for,
)
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import beside, start_pipeline
from marketing_team.testing.team_responder import offline_responder, skill_of

KEY = "sk-ant-test-crash-0000"


def _count(fake: FakeAnthropic, skill: str) -> int:
    return sum(1 for r in fake.requests if skill_of(r) == skill)


@pytest.fixture
def slow_copy() -> Iterator[FakeAnthropic]:
    """The Anthropic fake answering like the offline provider; the first copywriting call is slow."""
    seen: list[str] = []

    def delay(request: RecordedRequest) -> float:
        if skill_of(request) == "copywriting" and "copywriting" not in seen:
            seen.append("copywriting")
            return 4.0
        return 0.0

    with FakeAnthropic(responder=offline_responder(delay)) as fake:
        yield fake


def _env(server_url: str, fake: FakeAnthropic, workspace: Path) -> dict[str, str]:
    return {"REDIS_URL": server_url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.url,
            "WORKSPACE_DIR": str(workspace), "MT_LLM_MAX_RETRIES": "0", "LOG_LEVEL": "WARNING"}


def test_crash_killed_worker_process_mid_skill_goal_still_completes(
        redis_server: RunningServer, redis_client: object, slow_copy: FakeAnthropic, tmp_path: Path) -> None:
    # Given a prefork worker whose pool process is running a slow copywriting call
    env = _env(redis_server.url, slow_copy, tmp_path / "ws")
    worker = spawn_worker(env, tmp_path / "worker.log", pool="prefork", concurrency=2)
    try:
        rt, app = beside(redis_server, tmp_path / "ws", anthropic_api_key=KEY,
                         anthropic_base_url=slow_copy.url, llm_max_retries=0)
        goal = start_pipeline(rt, app, "Copywriting Review Chain")
        wait_for(lambda: _count(slow_copy, "copywriting"), 60, "the copywriting call")

        # When every pool process is SIGKILLed mid-call
        for pid in children(worker.pid):
            os.kill(pid, signal.SIGKILL)

        # Then the task is redelivered and the goal completes, with one extra call at most
        done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 90, "the goal")
        assert done.status is GoalStatus.COMPLETED, done.status_reason
        assert _count(slow_copy, "copywriting") == 2
        assert all(_count(slow_copy, t.skill) == 1 for t in done.tasks if t.skill != "copywriting")
    finally:
        stop(worker)


def test_crash_redelivered_task_with_stored_reply_makes_no_second_request(
        redis_server: RunningServer, redis_client: object, tmp_path: Path) -> None:
    with FakeAnthropic(responder=offline_responder()) as fake:
        env = _env(redis_server.url, fake, tmp_path / "ws")
        worker = spawn_worker(env, tmp_path / "worker.log")
        try:
            rt, app = beside(redis_server, tmp_path / "ws", anthropic_api_key=KEY,
                             anthropic_base_url=fake.url)
            goal = start_pipeline(rt, app, "Page Launch")
            done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 60, "goal")
            assert done.status is GoalStatus.COMPLETED
            before = len(fake.requests)

            # When a finished task's message comes again (as after a crash before its ack)
            first = done.tasks[0]

            def rewind(g: Goal) -> None:
                # The state a crash between the stored reply and the ack leaves behind.
                g.task(first.id).status = TaskStatus.IN_PROGRESS
                g.status = GoalStatus.RUNNING

            rewound, _ = rt.goals.update(goal.id, rewind)
            step_signature(app, rewound.task(first.id), rewound.run).apply_async()
            wait_for(lambda: rt.goals.load(goal.id).task(first.id).status is TaskStatus.APPROVED,
                     30, "the redelivered task")

            # Then the stored reply is reused: no new request for that skill
            skill_requests = [r for r in fake.requests[before:] if skill_of(r) == first.skill]
            assert skill_requests == []
        finally:
            stop(worker)


def test_crash_resume_after_killing_whole_run_reruns_only_unfinished_tasks(
        slow_copy: FakeAnthropic, tmp_path: Path) -> None:
    # Given `mtctl goal` on the embedded default, killed while copywriting is in flight
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": slow_copy.url,
           "WORKSPACE_DIR": str(tmp_path / "ws"), "MT_LLM_MAX_RETRIES": "0"}
    run = spawn(["-m", "marketing_team", "pipeline", "Copywriting Review Chain"], env, tmp_path / "run.log")
    try:
        wait_for(lambda: _count(slow_copy, "copywriting"), 60, "the copywriting call")
        os.kill(run.pid, signal.SIGKILL)
        run.wait(10)
    finally:
        stop(run)
    goal_id = next((tmp_path / "ws" / "goals").iterdir()).name
    before = {skill: _count(slow_copy, skill) for skill in ("marketing-psychology", "copywriting")}

    # When it is resumed
    resumed = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "resume", goal_id, "--json"],
                             env=child_env(env), capture_output=True, text=True, timeout=120)

    # Then it completes, finished tasks were not re-run, the killed one ran once more
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["status"] == "completed"
    assert before["marketing-psychology"] == 1 and _count(slow_copy, "marketing-psychology") == 1
    assert _count(slow_copy, "copywriting") == 2
    assert _count(slow_copy, "copy-editing") == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_crash_signal_to_an_embedded_run_stops_its_private_server(
        slow_copy: FakeAnthropic, tmp_path: Path, sig: signal.Signals) -> None:
    from marketing_team.ops.embedded import is_alive, socket_dir_for

    workspace = tmp_path / "ws"
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": slow_copy.url, "WORKSPACE_DIR": str(workspace)}
    run = spawn(["-m", "marketing_team", "pipeline", "Copywriting Review Chain"], env, tmp_path / "run.log")
    try:
        wait_for(lambda: _count(slow_copy, "copywriting"), 60, "the copywriting call")
        pidfile = workspace / ".state" / "server.pid"
        server_pid = int(pidfile.read_text().split()[0])
        os.kill(run.pid, sig)
        code = run.wait(30)
    finally:
        stop(run)
    assert code != 0
    wait_for(lambda: not is_alive(server_pid), 10, "the private server to stop")
    assert not pidfile.exists()
    assert not (socket_dir_for(workspace / ".state") / "valkey.sock").exists()
