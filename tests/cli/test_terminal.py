"""`mtctl goal` in a real terminal (a pseudo-terminal): alive while a call runs, clean on Ctrl-C
(issue 18, items 2 and 3)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.processes import child_env, wait_for
from marketing_team.testing.team_responder import offline_responder, skill_of

KEY = "sk-ant-terminal-test"
GOAL = "Write the homepage copy for our launch"
SLOW_S = 10.0


@pytest.fixture
def slow_copy() -> Iterator[FakeAnthropic]:
    """A model that answers like the offline provider, the copywriting draft SLOW_S late."""

    def delay(request: RecordedRequest) -> float:
        return SLOW_S if skill_of(request) == "copywriting" else 0.0

    with FakeAnthropic(responder=offline_responder(delay)) as fake:
        yield fake


def _env(fake: FakeAnthropic, tmp_path: Path) -> dict[str, str]:
    return child_env({"WORKSPACE_DIR": str(tmp_path / "ws"), "ANTHROPIC_API_KEY": KEY,
                      "ANTHROPIC_BASE_URL": fake.url, "TERM": "xterm-256color",
                      "COLUMNS": "120", "LINES": "40"})


def _spawn(fake: FakeAnthropic, tmp_path: Path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "marketing_team", *args], env=_env(fake, tmp_path),
                         cwd=str(tmp_path), timeout=90, encoding="utf-8", dimensions=(40, 120))


def _drafting(fake: FakeAnthropic, skill: str) -> bool:
    return any(skill_of(r) == skill for r in list(fake.requests))


def _mtctl_json(fake: FakeAnthropic, tmp_path: Path, *args: str) -> dict[str, object]:
    run = subprocess.run([sys.executable, "-m", "marketing_team", *args, "--json"],
                         env=_env(fake, tmp_path), cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    data: dict[str, object] = json.loads(run.stdout)
    return data


def test_the_terminal_shows_the_running_step_and_its_elapsed_time_while_the_call_runs(
        slow_copy: FakeAnthropic, tmp_path: Path) -> None:
    child = _spawn(slow_copy, tmp_path, "goal", GOAL, "--category", "content", "--priority", "P2")
    try:
        wait_for(lambda: _drafting(slow_copy, "copywriting"), 60, "the copywriting call")
        started = time.monotonic()
        # While the call is still unanswered, the panel counts its seconds.
        child.expect(re.compile(r"copywriting\s+drafting\s+[2-9] s"), timeout=SLOW_S)
        assert time.monotonic() - started < SLOW_S
        child.expect(pexpect.EOF, timeout=90)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before


def test_ctrl_c_stops_in_one_line_records_the_call_in_flight_and_resume_finishes(
        slow_copy: FakeAnthropic, tmp_path: Path) -> None:
    child = _spawn(slow_copy, tmp_path, "goal", GOAL, "--category", "content", "--priority", "P2")
    try:
        wait_for(lambda: _drafting(slow_copy, "copywriting"), 60, "the copywriting call")
        child.sendintr()  # Ctrl-C, through the terminal, to the foreground process group
        child.expect(r"interrupted: resume it with `mtctl goals resume (goal-[0-9a-f-]+)`", timeout=60)
        goal_id = child.match.group(1)
        after = child.before
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)

    assert child.exitstatus == 130 or child.signalstatus is not None
    assert "Traceback" not in after and "{" not in after, after
    # What the interrupt printed (the terminal echoes ^C) is a few lines; what came before it
    # grows with the planning spinner's frames, as long as a loaded machine takes to plan.
    assert len(after.rsplit("^C", 1)[-1]) < 2000, after

    shown = _mtctl_json(slow_copy, tmp_path, "goals", "show", goal_id)
    assert shown["status"] == "interrupted"
    budget = _mtctl_json(slow_copy, tmp_path, "budget")
    assert budget["reserved_usd"] == 0, after  # nothing left held by a call in flight
    assert "copywriting" in budget["by_skill"]  # the drained call is on the books

    resumed = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "resume", goal_id],
                             env=_env(slow_copy, tmp_path), cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = [line for line in resumed.stderr.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), resumed.stderr  # each step said once
    assert "noop" not in resumed.stderr and "->" not in resumed.stderr
    assert _mtctl_json(slow_copy, tmp_path, "goals", "show", goal_id)["status"] == "completed"
    drafts = [r for r in slow_copy.requests if skill_of(r) == "copywriting"]
    assert len(drafts) == 1  # the draft finished during the interrupt was kept, not paid again


def test_a_goal_cancelled_from_a_second_terminal_ends_the_first_cleanly(
        slow_copy: FakeAnthropic, tmp_path: Path) -> None:
    child = _spawn(slow_copy, tmp_path, "goal", GOAL, "--category", "content", "--priority", "P2")
    try:
        child.expect(r"Goal (goal-[0-9a-f-]+): \d+ phases", timeout=60)
        goal_id = child.match.group(1)
        wait_for(lambda: _drafting(slow_copy, "copywriting"), 60, "the copywriting call")
        cancel = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "cancel", goal_id],
                                env=_env(slow_copy, tmp_path), cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
        child.expect(pexpect.EOF, timeout=90)
        shown = child.before
    finally:
        child.close(force=True)

    assert cancel.returncode == 0 and cancel.stderr == "", cancel.stderr
    assert cancel.stdout.strip() == f"Goal {goal_id}: cancelled"
    assert f"Goal {goal_id}: cancelled" in shown
    assert "Traceback" not in shown and '{"' not in shown, shown[-3000:]
    # the draft that finished after the cancel was paid: it is in the goal's cost as in the ledger
    cost = _mtctl_json(slow_copy, tmp_path, "goals", "show", goal_id)["cost_usd"]
    spent = _mtctl_json(slow_copy, tmp_path, "budget")["spent_usd"]
    assert cost == pytest.approx(spent, abs=1e-6)


def _popen(fake: FakeAnthropic, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "marketing_team", *args],
                            env=_env(fake, tmp_path), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_with_json_prints_exactly_one_json_object(slow_copy: FakeAnthropic,
                                                          tmp_path: Path) -> None:
    run = _popen(slow_copy, tmp_path, "goal", GOAL, "--category", "content", "--json")
    wait_for(lambda: _drafting(slow_copy, "copywriting"), 60, "the copywriting call")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=90)

    assert run.returncode == 130, err[-2000:]
    summary = json.loads(out)  # one object, nothing after it
    assert summary["status"] == "interrupted"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_stopped_by_a_signal_leaves_its_goal_interrupted_not_running(
        slow_copy: FakeAnthropic, tmp_path: Path, stop: signal.Signals) -> None:
    run = _popen(slow_copy, tmp_path, "goal", GOAL, "--category", "content", "--json")
    wait_for(lambda: _drafting(slow_copy, "copywriting"), 60, "the copywriting call")
    run.send_signal(stop)
    out, err = run.communicate(timeout=90)

    assert run.returncode == 128 + stop, err[-2000:]
    goal_id = json.loads(out)["goal_id"] if "goal_id" in out else None
    listed = _mtctl_json_list(slow_copy, tmp_path)
    assert [g["status"] for g in listed] == ["interrupted"], (goal_id, listed)


def _mtctl_json_list(fake: FakeAnthropic, tmp_path: Path) -> list[dict[str, object]]:
    run = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "list", "--json"],
                         env=_env(fake, tmp_path), cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    found: list[dict[str, object]] = json.loads(run.stdout)
    return found


def test_worker_logs_go_to_a_file_not_to_the_terminal_following_the_goal(tmp_path: Path) -> None:
    def failing_copy(request: RecordedRequest) -> FakeReply:
        if skill_of(request) == "copywriting":
            return FakeReply.error(400, "invalid_request_error")  # fails the step for good
        return offline_responder()(request)

    with FakeAnthropic(responder=failing_copy) as fake:
        run = _popen(fake, tmp_path, "goal", GOAL, "--category", "content")
        out, err = run.communicate(timeout=120)

    assert run.returncode == 1, err[-2000:]
    assert "copywriting: failed" in err
    assert not [line for line in err.splitlines() if line.lstrip().startswith("{")], err[-3000:]
    assert "skill failed" in (tmp_path / "ws" / "logs" / "worker.log").read_text()


def test_the_terminal_counts_the_seconds_while_the_director_plans(tmp_path: Path) -> None:
    def slow_plan(request: RecordedRequest) -> float:
        return SLOW_S if "PlanProposal" in json.dumps(request.body) else 0.0

    with FakeAnthropic(responder=offline_responder(slow_plan)) as fake:
        child = _spawn(fake, tmp_path, "goal", GOAL, "--priority", "P2")
        try:
            child.expect(re.compile(r"planning: waiting for \S+ to propose a plan \([2-9] s\)"),
                         timeout=60)
            child.sendintr()
            child.expect(pexpect.EOF, timeout=60)
        finally:
            child.close(force=True)
    assert "Traceback" not in child.before
