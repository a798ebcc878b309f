"""`mtctl init`: a warning while the template is unfilled, and a start from a goal's drafted context."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from marketing_team.cli.main import cli
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.product_template import PRODUCT_TEMPLATE
from marketing_team.llm.offline import OFFLINE_NOTICE, draft
from marketing_team.testing.processes import child_env
from marketing_team.testing.scripted import Call, ScriptedLLM
from marketing_team.testing.team import Team

FOUNDATION = "product-marketing-context"
DRAFT_LINE = "Acme makes anvils that coyotes trust."


def _mtctl(team: Team, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"WORKSPACE_DIR": str(team.settings.workspace), "REDIS_URL": team.server.url}
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=60)


def _model_draft(call: Call) -> str:
    # What a model would write: every required section, without the offline provider's notice
    return draft(list(call.messages), list(call.system)).replace(OFFLINE_NOTICE, DRAFT_LINE)


def _goal_that_drafted_context(team: Team, scripted: ScriptedLLM) -> str:
    scripted.on(lambda c: c.is_skill(FOUNDATION), _model_draft)
    goal = team.pipeline("Copywriting Review Chain")
    assert goal.plan.phases[0].skills == (FOUNDATION,)
    assert team.wait(goal.id).status is GoalStatus.COMPLETED
    return goal.id


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return {"WORKSPACE_DIR": str(tmp_path / "ws"), "MT_CATALOG_DIR": None, "REDIS_URL": None}


def test_init_warns_that_the_template_is_unfilled(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(cli, ["init"], env=env)

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "unfilled" in warnings[0]


def test_init_names_the_from_command_when_an_earlier_goal_drafted_context(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    goal_id = _goal_that_drafted_context(scripted_team, scripted)

    result = _mtctl(scripted_team, "init")

    assert result.returncode == 0, result.stderr
    assert f"mtctl init --from {goal_id}" in result.stdout + result.stderr


def test_init_from_a_goal_starts_the_context_from_its_draft(scripted_team: Team,
                                                            scripted: ScriptedLLM) -> None:
    goal_id = _goal_that_drafted_context(scripted_team, scripted)
    assert _mtctl(scripted_team, "init").returncode == 0  # the template first: replaced freely

    result = _mtctl(scripted_team, "init", "--from", goal_id)

    assert result.returncode == 0, result.stderr
    text = scripted_team.rt.workspace.context_file.read_text(encoding="utf-8")
    assert text.startswith(DRAFT_LINE) and "task_id:" not in text  # the body, no front matter
    assert "## Product" in text and "warning" not in result.stderr
    assert scripted_team.rt.context.get() == text  # sent to the team too


def test_init_from_refuses_to_replace_a_context_someone_wrote(scripted_team: Team,
                                                              scripted: ScriptedLLM) -> None:
    goal_id = _goal_that_drafted_context(scripted_team, scripted)
    path = scripted_team.rt.workspace.context_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Our product\nAcme does X.\n", encoding="utf-8")

    result = _mtctl(scripted_team, "init", "--from", goal_id)

    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "--force" in result.stderr
    assert path.read_text(encoding="utf-8") == "# Our product\nAcme does X.\n"


def test_init_from_a_goal_without_a_draft_is_one_line(team: Team) -> None:
    team.rt.context.set("# Acme\nWe sell anvils.\n", "test")  # a context: no foundation step
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.COMPLETED

    missing = _mtctl(team, "init", "--from", "goal-20250101-abcdef")
    without = _mtctl(team, "init", "--from", goal.id)
    malformed = _mtctl(team, "init", "--from", "yesterday")

    for result, words in ((missing, "no goal goal-20250101-abcdef"), (without, "drafted no product"),
                          (malformed, "goal id")):
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1 and words in result.stderr, result.stderr
    assert not team.rt.workspace.context_file.exists()


def test_init_from_an_offline_draft_is_refused_since_no_model_wrote_it(team: Team) -> None:
    goal = team.pipeline("Copywriting Review Chain")
    assert team.wait(goal.id).status is GoalStatus.COMPLETED

    offered = _mtctl(team, "init")
    refused = _mtctl(team, "init", "--from", goal.id)

    assert "--from" not in offered.stdout + offered.stderr  # filler is never offered for reuse
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert "offline" in refused.stderr
    assert team.rt.workspace.context_file.read_text(encoding="utf-8") == PRODUCT_TEMPLATE


def test_context_set_and_show_warn_while_the_context_is_the_unfilled_template(
        env: dict[str, str | None], tmp_path: Path) -> None:
    template = tmp_path / "template.md"
    template.write_text(PRODUCT_TEMPLATE, encoding="utf-8")

    sent = CliRunner().invoke(cli, ["context", "set", str(template)], env=env)
    shown = CliRunner().invoke(cli, ["context", "show"], env=env)

    for result in (sent, shown):
        assert result.exit_code == 0, result.output
        assert [line for line in result.stderr.splitlines() if "unfilled" in line], result.stderr
