"""The folder people read is an export of Redis: rebuilt on demand, imported once from old releases.

Also: the product context is sent from context/product.md when it changes (the file wins).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from marketing_team.cli.main import cli
from marketing_team.config.settings import load_settings
from marketing_team.director.export import export_goal, export_reviews
from marketing_team.director.migration import migrate_workspace
from marketing_team.director.product_context import sync_from_file
from marketing_team.director.runtime import build_runtime
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def test_goals_export_rebuilds_a_deleted_folder_byte_for_byte(team: Team, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.COMPLETED
    first = export_goal(team.rt, goal.id)
    files = {p.relative_to(first): p.read_text() for p in first.rglob("*.md")}
    shutil.rmtree(first)

    monkeypatch.setenv("REDIS_URL", team.server.url)
    monkeypatch.setenv("WORKSPACE_DIR", str(team.settings.workspace))
    result = CliRunner().invoke(cli, ["goals", "export", goal.id, "--to", str(tmp_path / "archive")])

    assert result.exit_code == 0, result.output
    again = tmp_path / "archive" / "goals" / goal.id
    assert {p.relative_to(again): p.read_text() for p in again.rglob("*.md")} == files
    assert "summary.md" in {p.name for p in again.iterdir()}


def test_the_context_file_wins_when_it_changed_and_is_left_alone_when_not(team: Team) -> None:
    path = team.rt.workspace.context_file
    path.parent.mkdir(parents=True)
    path.write_text("# Acme\nWe sell anvils.\n")

    first = sync_from_file(team.rt)
    unchanged = sync_from_file(team.rt)
    team.rt.context.set("# Edited in Redis by someone else\n", "mtctl context set")
    # This file did not change since it was sent: the newer context from elsewhere stays
    untouched = sync_from_file(team.rt)
    kept = team.rt.context.get()
    path.write_text("# Acme\nWe sell anvils and rockets.\n")
    changed = sync_from_file(team.rt)

    assert first is not None and "sent to Redis" in first
    assert unchanged is None and untouched is None
    assert kept == "# Edited in Redis by someone else\n"
    assert changed is not None and "the file wins" in changed
    assert team.rt.context.get() == "# Acme\nWe sell anvils and rockets.\n"


def test_a_goal_reads_the_context_from_redis_not_from_any_disk(scripted_team: Team,
                                                              scripted: ScriptedLLM) -> None:
    scripted_team.rt.context.set("# Product: Orbit CRM for florists\n", "test")

    goal = scripted_team.pipeline("Copywriting Review Chain")

    assert scripted_team.wait(goal.id).status is GoalStatus.COMPLETED
    assert not scripted_team.rt.workspace.context_file.exists()
    drafts = [c for c in scripted.calls if c.schema is None]
    assert drafts and all(any("Orbit CRM for florists" in b.text for b in c.system) for c in drafts)


OLD_STATE = {
    "id": "goal-20261101-abc123", "description": "Grow signups", "category": "optimization",
    "priority": "P1", "status": "completed", "status_reason": "", "pipeline": None, "source": "cli",
    "event": None, "current_phase": 1, "dispatched_phase": 0, "consecutive_failures": 0,
    "cost_usd": "0.5", "provider": "anthropic", "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-01T10:05:00Z", "finished_at": "2026-11-01T10:05:00Z",
    "plan": {"phases": [{"name": "1. copy", "skills": ["copywriting"], "parallel": False}],
             "source": "routing", "template": None, "rationale": "", "learnings_used": []},
    "tasks": [{"id": "copywriting-20261101-def456", "goal_id": "goal-20261101-abc123",
               "phase_index": 0, "skill": "copywriting", "priority": "P1", "status": "approved",
               "output_path": "/old/ws/goals/goal-20261101-abc123/01-copywriting.md"}],
}


def _old_workspace(root: Path) -> Path:
    folder = root / "goals" / "goal-20261101-abc123"
    (folder / "reviews").mkdir(parents=True)
    (folder / "state.json").write_text(json.dumps(OLD_STATE))
    (folder / "01-copywriting.md").write_text("---\nskill: copywriting\n---\n# Copy\n")
    (folder / "reviews" / "01-copywriting.review.md").write_text("# Review: APPROVE\n")
    (folder / "goal.md").write_text("rendered page, not state\n")
    (root / "memory").mkdir()
    (root / "memory" / "learnings.jsonl").write_text(
        '{"skill": "copywriting", "outcome": "success", "lesson": "Old lesson"}\n')
    (root / "reviews").mkdir()
    (root / "reviews" / "review-20261101-0a0b0c.md").write_text(
        "---\nid: review-20261101-0a0b0c\ngoal_id: goal-20261101-abc123\nreason: rejected\n"
        "status: open\ndeliverable: /old/ws/goals/goal-20261101-abc123/01-copywriting.md\n---\nbody\n")
    (root / "context").mkdir()
    (root / "context" / "product.md").write_text("# Old product context\n")
    (root / "state").mkdir()
    (root / "state" / "schedules.json").write_text(json.dumps({"weekly-seo": {"enabled": False,
                                                                             "fire_count": 4}}))
    return root


def test_migrate_imports_an_old_file_workspace_once(team: Team, redis_client: redis.Redis,
                                                    tmp_path: Path) -> None:
    old = _old_workspace(tmp_path / "old")

    report = migrate_workspace(team.rt, old)
    again = migrate_workspace(team.rt, old)

    assert (report.goals, report.documents, report.learnings, report.review_items,
            report.schedules, report.context) == (1, 2, 1, 1, 1, True)
    assert (again.goals, again.goals_present, again.learnings, again.review_items) == (0, 1, 0, 0)
    goal = team.rt.goals.load("goal-20261101-abc123")
    assert goal.tasks[0].output == "01-copywriting.md" and goal.status is GoalStatus.COMPLETED
    assert team.rt.documents.get(goal.id, "reviews/01-copywriting.review.md") == "# Review: APPROVE\n"
    assert [i.deliverable for i in team.rt.reviews.list(ItemStatus.OPEN)] == ["01-copywriting.md"]
    assert [item.lesson for item in team.rt.learnings.for_skill("copywriting")] == ["Old lesson"]
    assert team.rt.schedules.get("weekly-seo").enabled is False
    assert team.rt.context.get() == "# Old product context\n"


def test_mtctl_migrate_says_what_it_did(redis_server: RunningServer, redis_client: redis.Redis,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("WORKSPACE_DIR", str(_old_workspace(tmp_path / "ws")))

    result = CliRunner().invoke(cli, ["migrate"])

    assert result.exit_code == 0, result.output
    assert "goals imported: 1 (0 already in Redis, skipped)" in result.output
    assert "learnings imported: 1" in result.output


def test_goals_export_all_writes_the_folders_of_goals_nobody_followed(
        team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    goal = team.pipeline("Copywriting Review Chain")  # as a schedule or webhook starts it
    assert team.wait(goal.id).status is GoalStatus.COMPLETED
    folder = team.settings.workspace / "goals" / goal.id
    assert not folder.exists()
    monkeypatch.setenv("REDIS_URL", team.server.url)
    monkeypatch.setenv("WORKSPACE_DIR", str(team.settings.workspace))

    result = CliRunner().invoke(cli, ["goals", "export", "--all"])

    assert result.exit_code == 0, result.output
    assert "exported 1 goal(s)" in result.output
    assert (folder / "summary.md").is_file() and (folder / "goal.md").is_file()
    assert list((team.settings.workspace / "metrics").glob("*-report.md"))
    neither = CliRunner().invoke(cli, ["goals", "export"])
    assert neither.exit_code == 2 and "give one goal id or --all" in neither.output


def test_migrate_names_what_it_could_not_import_and_what_needs_a_resume(
        team: Team, redis_client: redis.Redis, tmp_path: Path) -> None:
    old = _old_workspace(tmp_path / "old")
    running = json.loads(json.dumps(OLD_STATE))
    running.update(id="goal-20261102-aaaaaa", status="running", finished_at=None)
    running["tasks"][0].update(goal_id=running["id"], status="pending")
    (old / "goals" / running["id"]).mkdir()
    (old / "goals" / running["id"] / "state.json").write_text(json.dumps(running))
    (old / "goals" / "goal-20261103-bbbbbb").mkdir()  # a folder whose state was lost
    (old / "memory" / "learnings.jsonl").write_bytes(
        b'{"skill": "copywriting", "outcome": "success", "lesson": "One"}\n'
        b'\xff\xfe not text\n'
        b'{"skill": "copywriting", "outcome": "success", "lesson": "Two"}\n')

    report = migrate_workspace(team.rt, old)
    lines = "\n".join(report.lines())

    assert report.goals == 2 and report.learnings == 2
    assert "learnings.jsonl:2: not UTF-8 text" in lines
    assert "goal-20261103-bbbbbb: no state.json" in lines
    assert f"mtctl goals resume {running['id']}" in lines
    # The finished goal is kept for the retention period like any goal that finished here
    assert 0 < redis_client.ttl("mt:goal:goal-20261101-abc123:state")
    assert redis_client.ttl(f"mt:goal:{running['id']}:state") == -1


def test_migrate_imports_only_the_learnings_added_since_the_last_import(
        team: Team, tmp_path: Path) -> None:
    old = _old_workspace(tmp_path / "old")
    path = old / "memory" / "learnings.jsonl"
    path.write_text('{"skill": "copywriting", "outcome": "success", "lesson": "One"}\n')
    migrate_workspace(team.rt, old)

    # The old release wrote one more line before the user ran the import again
    with path.open("a") as handle:
        handle.write('{"skill": "copywriting", "outcome": "success", "lesson": "Two"}\n')
    again = migrate_workspace(team.rt, old)

    assert again.learnings == 1
    assert [item.lesson for item in team.rt.learnings.for_skill("copywriting")] == ["Two", "One"]


def test_an_export_skips_a_broken_document_with_a_warning_and_writes_the_rest(
        team: Team, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.COMPLETED
    redis_client.hset(f"mt:goal:{goal.id}:docs", mapping={"../escape.md": "x", "bad.md": b"\xff\xfe"})

    folder = export_goal(team.rt, goal.id)

    assert (folder / "summary.md").is_file() and not (folder / "bad.md").exists()
    assert not (folder.parent / "escape.md").exists()
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "'../escape.md'" in warned and "bad.md" in warned


def test_bad_input_around_exports_is_one_line_naming_the_path(
        team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.COMPLETED
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REDIS_URL", team.server.url)
    monkeypatch.setenv("WORKSPACE_DIR", str(team.settings.workspace))

    exported = CliRunner().invoke(cli, ["goals", "export", goal.id, "--to", str(blocker / "sub")])
    team.rt.workspace.context_file.parent.mkdir(parents=True)
    team.rt.workspace.context_file.write_bytes(b"# Acme \xff\xfe\n")
    with pytest.raises(InputError, match="product.md: not UTF-8 text"):
        sync_from_file(team.rt)

    assert exported.exit_code == 2, exported.output
    assert exported.output.count("\n") == 1 and str(blocker / "sub") in exported.output


def test_goals_export_all_writes_every_kept_review_item_not_only_a_first_page(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given more open and more decided review items than one page of the queue (100)
    rt = build_runtime(load_settings(_env_file=None, redis_url=redis_server.url,
                                     workspace_dir=tmp_path / "ws"), redis_server.broker_url)
    for n in range(260):
        item = rt.reviews.new_item(f"goal-20261130-{n:06x}", Reason.REJECTED, f"item {n}")
        rt.reviews.save(rt.reviews.decided(item, ItemStatus.APPROVED) if n % 2 else item)

    # When everything is exported
    exported = export_reviews(rt, tmp_path / "archive")

    # Then every kept item has its page
    assert exported == 260
    assert len(list((tmp_path / "archive" / "reviews").glob("review-*.md"))) == 260
