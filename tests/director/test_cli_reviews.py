"""`mtctl reviews` and `mtctl learnings` as a person uses them while the workers stay up."""

from __future__ import annotations

import json
import subprocess
import sys

from marketing_team.domain.goal import GoalStatus, TaskStatus
from marketing_team.testing.processes import child_env
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team


def _mtctl(team: Team, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"WORKSPACE_DIR": str(team.settings.workspace), "REDIS_URL": team.server.url}
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=60)


def test_cli_reviews_approve_continues_the_paused_goal_on_running_workers(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), "Too short.", times=4)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    assert scripted_team.wait(goal.id).status is GoalStatus.WAITING_HUMAN

    listed = _mtctl(scripted_team, "reviews", "list", "--json")
    items = json.loads(listed.stdout)
    assert [(i["goal_id"], i["skill"], i["reason"]) for i in items] == [
        (goal.id, "copywriting", "repeated_revisions")]
    shown = _mtctl(scripted_team, "reviews", "show", items[0]["id"])
    assert "Required section" in shown.stdout or "characters" in shown.stdout

    approved = _mtctl(scripted_team, "reviews", "approve", items[0]["id"])
    assert approved.returncode == 0, approved.stderr

    # The command followed the resumed goal to its end, like `mtctl goal`, and exported its folder
    assert f"Goal {goal.id}: completed" in approved.stdout
    assert (scripted_team.settings.workspace / "goals" / goal.id / "summary.md").is_file()
    done = scripted_team.wait(goal.id)
    assert done.status is GoalStatus.COMPLETED
    assert next(t for t in done.tasks if t.skill == "copywriting").status is TaskStatus.APPROVED
    assert json.loads(_mtctl(scripted_team, "reviews", "list", "--json").stdout) == []
    again = _mtctl(scripted_team, "reviews", "approve", items[0]["id"])
    assert again.returncode == 2 and "already approved" in again.stderr


def test_cli_learnings_list_filters_by_skill(team: Team) -> None:
    team.wait(team.pipeline("SEO Cycle").id)
    out = _mtctl(team, "learnings", "list", "--skill", "seo-audit", "--json")
    learnings = json.loads(out.stdout)
    assert learnings and all(item["skill"] == "seo-audit" for item in learnings)
    assert all(item["lesson"].startswith("Approved") for item in learnings)


def test_cancelling_a_paused_goal_closes_its_open_items(scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), "Too short.", times=4)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    assert scripted_team.wait(goal.id).status is GoalStatus.WAITING_HUMAN
    item = json.loads(_mtctl(scripted_team, "reviews", "list", "--json").stdout)[0]

    cancelled = _mtctl(scripted_team, "goals", "cancel", goal.id)

    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(_mtctl(scripted_team, "reviews", "list", "--json").stdout) == []
    decided = json.loads(_mtctl(scripted_team, "reviews", "list", "--all", "--json").stdout)
    assert [(i["id"], i["status"]) for i in decided] == [(item["id"], "closed")]
    late = _mtctl(scripted_team, "reviews", "approve", item["id"])
    assert late.returncode == 2 and "already closed" in late.stderr
    assert scripted_team.rt.goals.load(goal.id).status is GoalStatus.CANCELLED


# What a hostile or confused model might write: none of it may act on the reader's terminal.
SEQUENCES = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\u202e")
HOSTILE_DRAFT = ("Short \x1b]0;pwned\x07draft \x1b[2J\x9b31mred\x9d0;c1\x9c "
                 "\x1b]8;;http://evil.test\x1b\\link\x1b]8;;\x1b\\ \u202eright-to-left")


def test_cli_reviews_show_a_hostile_draft_without_its_control_sequences(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), HOSTILE_DRAFT, times=4)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    assert scripted_team.wait(goal.id).status is GoalStatus.WAITING_HUMAN
    item = json.loads(_mtctl(scripted_team, "reviews", "list", "--json").stdout)[0]

    outputs = [_mtctl(scripted_team, "reviews", "list"), _mtctl(scripted_team, "reviews", "show", item["id"]),
               _mtctl(scripted_team, "goals", "show", goal.id)]

    for done in outputs:
        assert done.returncode == 0, done.stderr
        assert not any(seq in done.stdout + done.stderr for seq in SEQUENCES), repr(done.stdout)
    assert item["id"] in outputs[1].stdout
