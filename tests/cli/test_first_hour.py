"""A newcomer's first runs on the embedded default: said plainly, labelled rightly, nothing written
by a dry run (issue 18, items 1 and 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from marketing_team.testing.processes import child_env


def _mtctl(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], cwd=tmp_path,
                          env=child_env({"WORKSPACE_DIR": str(tmp_path / "ws")}),
                          capture_output=True, text=True, timeout=timeout)


def test_an_offline_run_says_first_that_no_model_writes_and_how_to_connect_one(tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "goal", "Write a launch announcement for our new API", "--priority", "P2")

    assert run.returncode == 0, run.stderr[-2000:]
    first = run.stderr.splitlines()[0]
    assert "no model is connected" in first and "ANTHROPIC_API_KEY" in first
    progress = "\n".join(run.stderr.splitlines()[1:])
    # the labels a person reads: no internal moves, no revision 0, no numbered numbers
    for internal in ("-> dispatch", "-> finish", "-> noop", "revision 0", ". 0.", "1. 1."):
        assert internal not in progress + run.stdout, internal


def test_a_dry_run_calls_no_model_writes_nothing_and_says_where_its_plan_comes_from(
        tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "goal", "Increase signup conversion by 20%", "--dry-run")

    assert run.returncode == 0, run.stderr[-2000:]
    assert "no model is connected" in run.stderr.splitlines()[0]
    assert "model plan accepted" not in run.stdout
    assert "rule plan" in run.stdout
    for line in run.stdout.splitlines():
        assert ". 0." not in line and not line.strip().startswith("1. 1.")
    assert not (tmp_path / "ws").exists()  # no server state, no folder, nothing


def test_a_dry_run_with_json_prints_only_the_json_plan(tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "goal", "Increase signup conversion by 20%", "--dry-run", "--json")

    assert run.returncode == 0, run.stderr[-2000:]
    plan = json.loads(run.stdout)
    assert plan["status"] == "planned" and plan["plan_source"] != "llm"
    assert plan["planning_cost_usd"] == 0
    assert not (tmp_path / "ws").exists()


def test_the_goal_page_never_names_a_phase_past_the_last(tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "goal", "Increase signup conversion by 20%", "--json")

    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    page = (Path(summary["folder"]) / "goal.md").read_text()
    phase_line = next(line for line in page.splitlines() if line.startswith("phase:"))
    assert int(phase_line.split(":")[1]) <= summary["phases"], phase_line


def test_a_pipeline_run_takes_a_topic_that_every_step_writes_about(tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "pipeline", "Content Production", "--topic", "our Slack integration",
                 "--json")

    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    assert "our Slack integration" in summary["description"]
    drafts = [p for p in Path(summary["folder"]).glob("*.md")
              if p.name not in ("goal.md", "plan.md", "summary.md")]
    assert drafts and all("our Slack integration" in p.read_text() for p in drafts)


def test_an_event_run_offline_starts_with_the_same_notice(tmp_path: Path) -> None:
    run = _mtctl(tmp_path, "events", "emit", "traffic_drop", "--data", '{"percentageDrop": 30}')

    assert run.returncode == 0, run.stderr[-2000:]
    assert "no model is connected" in run.stderr.splitlines()[0]


def test_control_sequences_never_become_part_of_a_goal_or_its_pages(tmp_path: Path) -> None:
    only_controls = _mtctl(tmp_path, "goal", "\x1b]0;pwned\x07\x1b[2J")
    run = _mtctl(tmp_path, "goal", "Grow \x1b]0;pwned\x07signups \x1b[2Jnow", "--json")

    assert only_controls.returncode == 2 and "goal text is empty" in only_controls.stderr
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    assert summary["description"] == "Grow signups now"
    for page in Path(summary["folder"]).rglob("*.md"):
        assert "\x1b" not in page.read_text(), page.name


def test_the_progress_lines_tell_every_phase_in_order_to_the_last(tmp_path: Path) -> None:
    # An offline goal runs faster than a terminal reads its events: no line is lost or early
    result = _mtctl(tmp_path, "goal", "Increase signup conversion by 20%")

    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "/6" in line]
    phases = [int(line.split("phase ")[1].split("/")[0]) for line in lines]
    assert phases == sorted(phases), "\n".join(lines)
    assert lines[-2:] == ["[phase 6/6] director-review: approved (score 8.0)", "phase 6/6 done"], \
        "\n".join(lines)
    for number in range(1, 7):
        assert f"phase {number}/6 done" in lines
