"""A step's lease goes back at its task's end however the task ended and however it was run."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.errors import LLMError, LLMTransientError
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.orchestration import dispatch
from marketing_team.store.leases import DUE
from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.processes import spawn_worker, stop, wait_for
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team, beside, start_pipeline
from marketing_team.testing.team_responder import offline_responder

KEY = "sk-ant-test-step-end-0000"


def _leases_left(team: Team) -> list[bytes]:
    return _left(team.rt.redis)


def _left(client: redis.Redis) -> list[bytes]:
    """Every lease and lease deadline still on the server."""
    return [*client.scan_iter("mt:lease:*"), *client.zrange(DUE, 0, -1)]


def _started(team: Team) -> Goal:
    goal = plan_pipeline(team.rt, "Copywriting Review Chain")
    team.rt.goals.create(goal)
    return dispatch.start(team.app, team.rt, goal.id)


def test_every_step_of_a_finished_goal_gave_its_lease_back(team: Team) -> None:
    goal = team.goal("Increase signup conversion by 20%")
    done = team.wait(goal.id)
    assert done.status is GoalStatus.COMPLETED

    # Each task's draft and its review held a lease; their tasks' ends gave every one back
    wait_for(lambda: not _leases_left(team), 10, "every lease to be released")
    runs = team.rt.redis.hget(f"mt:metrics:goal:{goal.id}", "runs")
    assert int(runs or 0) >= len(done.tasks) * 2  # and the same round trips counted each run


def test_a_skill_task_called_directly_gives_its_lease_back_when_it_returns(idle: Team) -> None:
    goal = _started(idle)
    first = goal.tasks[0]

    # When the step's task is called as a function (no worker, so no task_postrun signal)
    result = idle.app.tasks[f"skills.{first.skill}"](goal.id, first.id, goal.run)

    # Then it drafted, and its lease is not held (nor renewed) after it returned
    assert result["status"] == "completed"
    assert not idle.rt.leases.alive("skill", first.id, first.revision)
    assert not _leases_left(idle)


def test_a_skill_task_applied_eagerly_gives_its_lease_back(idle: Team) -> None:
    goal = _started(idle)
    first = goal.tasks[0]

    result = idle.app.tasks[f"skills.{first.skill}"].apply(args=(goal.id, first.id, goal.run))

    assert result.result["status"] == "completed"  # .get() refuses once a worker ran here
    assert not _leases_left(idle)


def test_a_review_task_called_directly_gives_its_lease_back(idle: Team) -> None:
    goal = _started(idle)
    first = goal.tasks[0]
    idle.app.tasks[f"skills.{first.skill}"].apply(args=(goal.id, first.id, goal.run))

    decision = idle.app.tasks["director.review"](goal.id, first.id, goal.run)

    assert "decision" in decision
    assert not _leases_left(idle)


@pytest.mark.parametrize("fault", [LLMTransientError("overloaded"), LLMError("refused for good"),
                                   RuntimeError("a bug in the provider adapter")],
                         ids=["retried", "failed", "crashed"])
def test_a_step_that_raised_gives_its_lease_back(scripted_team: Team, scripted: ScriptedLLM,
                                                 fault: Exception) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), fault, times=1)
    goal = scripted_team.pipeline("Copywriting Review Chain")

    settled = wait_for(lambda: (g := scripted_team.rt.goals.load(goal.id)).status not in (
        GoalStatus.PLANNED, GoalStatus.RUNNING) and g, 60, "the goal to settle")

    assert settled.status in (GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.WAITING_HUMAN)
    wait_for(lambda: not _leases_left(scripted_team), 10, "every lease to be released")


def test_a_prefork_worker_gives_every_lease_back_with_its_metrics(
        redis_server: RunningServer, redis_client: object, tmp_path: Path) -> None:
    with FakeAnthropic(responder=offline_responder()) as fake:
        env = {"REDIS_URL": redis_server.url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.url,
               "WORKSPACE_DIR": str(tmp_path / "ws"), "LOG_LEVEL": "WARNING"}
        # Given a prefork worker (each step runs in a pool child, its postrun there too)
        worker = spawn_worker(env, tmp_path / "worker.log", pool="prefork", concurrency=2)
        try:
            rt, app = beside(redis_server, tmp_path / "ws", anthropic_api_key=KEY,
                             anthropic_base_url=fake.url)
            goal = start_pipeline(rt, app, "Copywriting Review Chain")
            done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 90, "goal")
            assert done.status is GoalStatus.COMPLETED, done.status_reason

            # Then every draft's and review's lease went back, in the round trip of its metrics
            wait_for(lambda: not _left(rt.redis), 10, "every lease to be released")
            runs = rt.redis.hget(f"mt:metrics:goal:{goal.id}", "runs")
            assert int(runs or 0) >= len(done.tasks) * 2
        finally:
            stop(worker)


def test_a_skill_whose_upstream_deliverable_is_corrupt_fails_its_task_and_gives_its_lease_back(
        idle: Team) -> None:
    # Given a goal whose first phase was approved, and whose first deliverable was then stored
    # with front matter that does not parse (a migrated file a person had edited, say)
    goal = _started(idle)
    first = goal.tasks[0]
    idle.app.tasks[f"skills.{first.skill}"](goal.id, first.id, goal.run)
    idle.app.tasks["director.review"](goal.id, first.id, goal.run)
    goal = idle.rt.goals.load(goal.id)
    approved, second = goal.tasks[0], goal.phase_tasks(goal.current_phase)[0]
    assert approved.output is not None and second.phase_index > approved.phase_index
    idle.rt.documents.put(goal.id, approved.output, "---\ntitle: never closed\nThe draft.\n")

    # When the next phase's skill runs
    result = idle.app.tasks[f"skills.{second.skill}"](goal.id, second.id, goal.run)

    # Then the task failed with the typed reason (not the whole message), and its lease went back
    assert result["status"] == "failed"
    failed = idle.rt.goals.load(goal.id).task(second.id)
    assert failed.error is not None and "CorruptFileError" in failed.error
    assert not idle.rt.leases.alive("skill", second.id, second.revision)
    assert not _leases_left(idle)
