"""A process killed between two writes leaves nothing half-done: redelivery or a retry repairs it.

Each test freezes a real worker (or web) process at the worst moment with the fault proxy (right
after one chosen write reached the server), SIGKILLs it there, and checks what a second process
makes of the state left behind.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from celery import Celery

from marketing_team.budget.policy import to_micros
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import build_tasks, plan_pipeline
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.event import Event
from marketing_team.domain.goal import (
    Category,
    Goal,
    GoalStatus,
    PhaseSpec,
    Plan,
    Priority,
    TaskStatus,
)
from marketing_team.domain.review import SCORE_DIMENSIONS
from marketing_team.domain.review_item import ItemStatus
from marketing_team.domain.values import new_id
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.fault_proxy import FaultProxy, Match, writes
from marketing_team.testing.invariants import unaccounted_goals
from marketing_team.testing.processes import child_env, spawn_worker, stop, wait_for
from marketing_team.testing.servers import RunningServer, free_port
from marketing_team.testing.team_responder import offline_responder, skill_of
from marketing_team.testing.web_client import TOKEN
from marketing_team.triggers.event_bus import event_result

KEY = "sk-ant-test-windows-0000"
EVENT = {"type": "traffic_drop", "data": {"percentageDrop": 30}}


def _rejecting(request: RecordedRequest) -> FakeReply:
    """Answers like the offline provider, except that every review rejects the draft."""
    structured = (request.body.get("output_config") or {}).get("format") or {}
    if structured.get("schema", {}).get("title") != "ReviewReply":
        return offline_responder()(request)
    review = {"verdict": "REJECT", "scores": dict.fromkeys(SCORE_DIMENSIONS, 2.0),
              "findings": [{"severity": "major", "section": "All", "description": "Off brief"}],
              "revision_requests": ["Start again from the brief"]}
    return FakeReply.text(json.dumps(review), input_tokens=900, output_tokens=200)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(responder=offline_responder()) as running:
        yield running


@pytest.fixture
def proxy(redis_server: RunningServer, redis_client: redis.Redis) -> Iterator[FaultProxy]:
    with FaultProxy.in_front_of(redis_server) as running:
        yield running


def _env(url: str, fake: FakeAnthropic, workspace: Path) -> dict[str, str]:
    return {"REDIS_URL": url, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake.url,
            "WORKSPACE_DIR": str(workspace), "MT_LLM_MAX_RETRIES": "0", "LOG_LEVEL": "WARNING",
            "MT_HEARTBEAT_TIMEOUT": "3"}


def _runtime(server: RunningServer, fake: FakeAnthropic, workspace: Path,
             budget_monthly: Decimal = Decimal("1000")) -> Runtime:
    settings = load_settings(_env_file=None, redis_url=server.url, anthropic_api_key=KEY,
                             anthropic_base_url=fake.url, workspace_dir=workspace, llm_max_retries=0,
                             budget_monthly=budget_monthly)
    return build_runtime(settings, server.broker_url)


def _kill(worker: subprocess.Popen[bytes]) -> None:
    stop(worker, signal.SIGKILL)


def test_a_crash_right_after_an_escalation_leaves_its_review_item_with_it(
        redis_server: RunningServer, proxy: FaultProxy, tmp_path: Path) -> None:
    # Given a worker behind the proxy, and reviews that reject every draft (the second escalates)
    with FakeAnthropic(responder=_rejecting) as fake:
        rt = _runtime(redis_server, fake, tmp_path / "ws")
        app = build_app(rt.settings, broker_url=redis_server.broker_url)
        worker = spawn_worker(_env(proxy.url, fake, tmp_path / "ws"), tmp_path / "w1.log", name="w1")
        try:
            goal = plan_pipeline(rt, "Copywriting Review Chain", Priority.P1)
            rt.goals.create(goal)
            proxy.freeze_after(writes("mt:goal:", "SET", "EVALSHA", containing=b'"status":"blocked"'))
            dispatch.start(app, rt, goal.id)

            # When the worker dies right after the write that blocks the task
            assert proxy.frozen.wait(60), "the escalation was never written"
            _kill(worker)
        finally:
            stop(worker)
        proxy.heal()

        # Then the goal waits for a person, and the person has the item to decide
        stored = rt.goals.load(goal.id)
        assert unaccounted_goals(rt) == []
        blocked = [t.id for t in stored.tasks if t.status is TaskStatus.BLOCKED]
        open_items = [i for i in rt.reviews.list(ItemStatus.OPEN) if i.goal_id == goal.id]
        assert stored.status is GoalStatus.WAITING_HUMAN, stored.status
        assert blocked and sorted(i.task_id or "" for i in open_items) == sorted(blocked)


def test_a_crash_right_after_a_budget_deferral_leaves_the_step_parked_for_a_later_worker(
        redis_server: RunningServer, proxy: FaultProxy, fake: FakeAnthropic, tmp_path: Path) -> None:
    # Given a P2 goal published at a normal level, then spending that throttles P2 ($9.10 of $10)
    rt = _runtime(redis_server, fake, tmp_path / "ws", budget_monthly=Decimal("10"))
    app = build_app(rt.settings, broker_url=redis_server.broker_url)
    goal = plan_pipeline(rt, "Copywriting Review Chain", Priority.P2)
    rt.goals.create(goal)
    dispatch.start(app, rt, goal.id)
    rt.budget.ledger.record(to_micros(Decimal("9.10")))
    proxy.freeze_after(writes("mt:goal:", "SET", "EVALSHA", containing=b'"status":"waiting_budget"'))
    worker = spawn_worker({**_env(proxy.url, fake, tmp_path / "ws"), "BUDGET_MONTHLY": "10"},
                          tmp_path / "w1.log", name="w1")
    try:
        # When the worker dies right after the write that makes the goal wait for the budget
        assert proxy.frozen.wait(60), "the deferral was never written"
        _kill(worker)
    finally:
        stop(worker)
    proxy.heal()

    # Then something still owns the step (it is parked, not only in a dead worker's hands) ...
    assert unaccounted_goals(rt) == []
    assert rt.goals.load(goal.id).status is GoalStatus.WAITING_BUDGET

    # ... and a worker with a raised budget runs it in seconds, not after the visibility timeout
    second = spawn_worker({**_env(redis_server.url, fake, tmp_path / "ws"), "BUDGET_MONTHLY": "20"},
                          tmp_path / "w2.log", name="w2")
    try:
        done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 90,
                        "the deferred goal")
    finally:
        stop(second)
    assert done.status is GoalStatus.COMPLETED, done.status_reason


def _killed_after_a_draft(server: RunningServer, proxy: FaultProxy, fake: FakeAnthropic,
                          workspace: Path, rt: Runtime, goal: Goal) -> None:
    """Start the goal on a worker behind the proxy and SIGKILL it right after a draft's record."""
    app = build_app(rt.settings, broker_url=server.broker_url)
    rt.goals.create(goal)
    worker = spawn_worker(_env(proxy.url, fake, workspace), workspace.parent / "w1.log", name="w1")
    try:
        proxy.freeze_after(writes("mt:goal:", "EVALSHA", containing=b'"task_completed"'))
        dispatch.start(app, rt, goal.id)
        assert proxy.frozen.wait(60), "no draft was recorded"
        _kill(worker)
    finally:
        stop(worker)
    proxy.heal()


def _finished_once_by_another_worker(server: RunningServer, fake: FakeAnthropic, workspace: Path,
                                     rt: Runtime, goal: Goal, within_s: float) -> None:
    """A second worker completes the goal in time, every step approved and drafted once."""
    second = spawn_worker(_env(server.url, fake, workspace), workspace.parent / "w2.log", name="w2")
    try:
        done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, within_s, "the goal")
    finally:
        stop(second)
    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert all(t.status is TaskStatus.APPROVED and t.revision == 0 for t in done.tasks)
    assert sorted(skill_of(r) or "" for r in fake.requests) == sorted(t.skill for t in done.tasks)


def test_a_p3_chord_member_killed_right_after_its_drafts_record_is_decided_and_not_drafted_again(
        redis_server: RunningServer, proxy: FaultProxy, fake: FakeAnthropic, tmp_path: Path) -> None:
    # Given a P3 goal, whose steps review their own drafts, starting with a parallel phase
    rt = _runtime(redis_server, fake, tmp_path / "ws")
    goal = plan_pipeline(rt, "Copywriting Review Chain", Priority.P3)

    # When the worker dies right after a chord member's draft was recorded
    _killed_after_a_draft(redis_server, proxy, fake, tmp_path / "ws", rt, goal)

    # Then the record carried the review's decision: no draft waits unreviewed ...
    tasks = rt.goals.load(goal.id).tasks
    assert [t.status for t in tasks if t.output] == [TaskStatus.APPROVED]
    assert not any(t.status is TaskStatus.COMPLETED for t in tasks) and unaccounted_goals(rt) == []
    # ... and another worker finishes the goal without drafting that step again
    _finished_once_by_another_worker(redis_server, fake, tmp_path / "ws", rt, goal, within_s=90)


def _sequential_p3_goal(rt: Runtime, skills: tuple[str, ...]) -> Goal:
    """A P3 goal of one phase whose skills run in order (a chain of self-reviewing drafts)."""
    plan = Plan(source="routing", phases=(PhaseSpec(name="1. in order", skills=skills),))
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Lift signups", category=Category.CONTENT,
                priority=Priority.P3, plan=plan, provider="anthropic",
                catalog_fingerprint=rt.catalog.fingerprint,
                tasks=build_tasks(goal_id, plan, Priority.P3, "Lift signups"))


def test_a_p3_chain_member_killed_right_after_its_drafts_record_lets_the_chain_go_on_within_a_minute(
        redis_server: RunningServer, proxy: FaultProxy, fake: FakeAnthropic, tmp_path: Path) -> None:
    # Given a P3 goal whose one phase runs two self-reviewing steps in order (one chain)
    rt = _runtime(redis_server, fake, tmp_path / "ws")
    goal = _sequential_p3_goal(rt, ("marketing-psychology", "copywriting"))

    # When the worker dies right after the first step's draft was recorded (and decided),
    # before the chain's next step was published
    _killed_after_a_draft(redis_server, proxy, fake, tmp_path / "ws", rt, goal)
    assert [t.status for t in rt.goals.load(goal.id).tasks] == [TaskStatus.APPROVED, TaskStatus.PENDING]

    # Then another worker runs the rest of the chain once the dead lease lapsed (3 s here), not
    # after the stuck check's window (the hard time limit) or the visibility timeout
    _finished_once_by_another_worker(redis_server, fake, tmp_path / "ws", rt, goal, within_s=60)


def _handle(app: Celery, event: Event, message_id: str) -> None:
    """The bus's message for the event, with the given id (what a redelivery brings back)."""
    app.signature("triggers.handle_event", args=(event.model_dump_json(),),
                  queue="director").apply_async(task_id=message_id)


@pytest.mark.parametrize("crash_after", [
    pytest.param(writes("mt:events:seen:", "SET", "EVAL", "EVALSHA"), id="the-event-claim"),
    pytest.param(writes("mt:goal:", "SET", "EVALSHA"), id="the-goal-saved-not-published"),
])
def test_an_event_whose_handler_died_midway_starts_exactly_one_goal_on_redelivery(
        redis_server: RunningServer, proxy: FaultProxy, fake: FakeAnthropic, tmp_path: Path,
        crash_after: Match) -> None:
    # Given a worker behind the proxy handling a traffic_drop event (it maps to SEO Cycle)
    rt = _runtime(redis_server, fake, tmp_path / "ws")
    app = build_app(rt.settings, broker_url=redis_server.broker_url)
    event = Event.model_validate({**EVENT, "id": "evt-window-1", "source": "test"})
    first = spawn_worker(_env(proxy.url, fake, tmp_path / "ws"), tmp_path / "w1.log", name="w1")
    try:
        proxy.freeze_after(crash_after)
        _handle(app, event, "handle-evt-window-1")

        # When it dies right after that write
        assert proxy.frozen.wait(60), "the handler never got there"
        _kill(first)
    finally:
        stop(first)
    proxy.heal()

    # And its message comes back (a redelivery keeps the message's id) to another worker
    second = spawn_worker(_env(redis_server.url, fake, tmp_path / "ws"), tmp_path / "w2.log", name="w2")
    try:
        _handle(app, event, "handle-evt-window-1")
        result = wait_for(lambda: event_result(rt.redis, event.id), 60, "the event's result")

        # Then one goal was started for the event, and it runs to the end
        assert result["reason"] is None and len(result["goals"]) == 1, result
        done = wait_for(lambda: (g := rt.goals.load(result["goals"][0])).status.is_settled and g,
                        90, "the event's goal")
        assert done.status is GoalStatus.COMPLETED, done.status_reason
        assert [g.id for g in rt.goals.recent(20)] == [done.id]
    finally:
        stop(second)


def _post(port: int, body: bytes) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/webhook", body=body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    except (OSError, http.client.HTTPException):
        return 0, {}
    finally:
        conn.close()


def _gunicorn(url: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = child_env({"REDIS_URL": url, "WORKSPACE_DIR": str(tmp_path / "ws"), "MT_WEBHOOK_TOKEN": TOKEN,
                     "MT_HEARTBEAT_TIMEOUT": "2"})
    with (tmp_path / f"{name}.log").open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "marketing_team.web.wsgi:app",
                                 "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc, port


def _health(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status in (200, 503)
    except OSError:
        return False
    finally:
        conn.close()


def test_a_web_process_killed_between_claim_and_queue_does_not_swallow_the_senders_retry(
        redis_server: RunningServer, redis_client: redis.Redis, proxy: FaultProxy, tmp_path: Path) -> None:
    body = json.dumps({**EVENT, "id": "evt-web-window"}).encode()
    # Given the web behind the proxy, frozen right after it claimed the event's id
    web, port = _gunicorn(proxy.url, tmp_path, "web1")
    try:
        wait_for(lambda: _health(port), 30, "the first web process")
        proxy.freeze_after(writes("mt:events:seen:", "SET", "EVAL", "EVALSHA"))
        threading.Thread(target=_post, args=(port, body), daemon=True).start()
        assert proxy.frozen.wait(30), "the web never claimed the event"

        # When it is killed there, before the event was queued
        stop(web, signal.SIGKILL)
    finally:
        stop(web)
    proxy.heal()

    # Then the sender's retry to a restarted web is queued once the dead claim lapsed (2 s here)
    again, port = _gunicorn(redis_server.url, tmp_path, "web2")
    try:
        wait_for(lambda: _health(port), 30, "the restarted web process")
        status, reply = wait_for(lambda: (r := _post(port, body))[1].get("status") == "queued" and r,
                                 30, "the retry to be queued")
        assert status == 202 and reply["event_id"] == "evt-web-window"
        again_status, duplicate = _post(port, body)
        assert again_status == 202 and duplicate["status"] == "duplicate"
    finally:
        stop(again)
