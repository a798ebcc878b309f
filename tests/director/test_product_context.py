"""The product context's file: an unfilled template is no context, and comments never reach a skill."""

from __future__ import annotations

from marketing_team.director.launch import plan_goal, plan_pipeline
from marketing_team.director.product_context import send_file, sync_from_file
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.domain.product_template import PRODUCT_TEMPLATE
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team

FOUNDATION = "product-marketing-context"


def _write_context(team: Team, text: str) -> None:
    path = team.rt.workspace.context_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_an_unfilled_template_counts_as_no_context_so_plans_keep_the_foundation_step(team: Team) -> None:
    # Given the template `mtctl init` writes, sent to the team as it is
    _write_context(team, PRODUCT_TEMPLATE)
    send_file(team.rt)

    # When the Director plans a goal and a template
    goal, _ = plan_goal(team.rt, "Increase signup conversion by 20%", Priority.P1)
    pipeline = plan_pipeline(team.rt, "SEO Cycle")

    # Then both still start by drafting the product context, and no skill is handed the template
    assert goal.plan.phases[0].skills == (FOUNDATION,)
    assert pipeline.plan.phases[0].skills == (FOUNDATION,)
    assert team.rt.context.get() == ""


def test_html_comments_never_reach_a_skill_as_context(scripted_team: Team,
                                                       scripted: ScriptedLLM) -> None:
    # Given a template with one section filled in and every comment left in place
    filled = PRODUCT_TEMPLATE.replace("## Product\n", "## Product\nAcme sells anvils to coyotes.\n", 1)
    _write_context(scripted_team, filled)
    sync_from_file(scripted_team.rt)

    goal = scripted_team.pipeline("Copywriting Review Chain")
    assert scripted_team.wait(goal.id).status is GoalStatus.COMPLETED

    contexts = [block.text for call in scripted.calls for block in call.system
                if block.text.startswith("<product_context>")]
    assert contexts and all("Acme sells anvils to coyotes." in text for text in contexts)
    assert not any("<!--" in text or "-->" in text for text in contexts)
    assert FOUNDATION not in {task.skill for task in goal.tasks}  # a filled section is context


def test_a_goal_run_on_the_unfilled_template_warns_in_one_line_every_time(team: Team) -> None:
    _write_context(team, PRODUCT_TEMPLATE)

    first = sync_from_file(team.rt)
    again = sync_from_file(team.rt)  # unchanged since it was sent: still worth saying

    for note in (first, again):
        assert note is not None and "\n" not in note
        assert "unfilled" in note and "mtctl init --from" in note
    assert "sent to Redis" in (first or "")


def test_a_filled_context_file_brings_no_warning(team: Team) -> None:
    _write_context(team, "# Acme\nWe sell anvils.\n")
    assert "unfilled" not in (sync_from_file(team.rt) or "")
    assert sync_from_file(team.rt) is None
