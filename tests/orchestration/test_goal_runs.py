"""A goal runs end to end on a real worker: plan, canvases, skills, reviews, phases, summary."""

from __future__ import annotations

import pytest

from marketing_team.catalog.loader import load_catalog
from marketing_team.director.export import export_goal
from marketing_team.domain.goal import GoalStatus, Priority, TaskStatus
from marketing_team.llm.offline import OFFLINE_NOTICE
from marketing_team.store import frontmatter
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team

SHORT = "Too short."


def test_goal_signup_conversion_completes_with_every_task_approved(team: Team) -> None:
    goal = team.goal("Increase signup conversion by 20%")
    done = team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert len(done.plan.phases) >= 3
    assert all(t.status is TaskStatus.APPROVED for t in done.tasks)
    stored = team.rt.documents.all(goal.id)
    for task in done.tasks:
        assert task.output is not None and task.output in stored
        meta, body = frontmatter.parse(stored[task.output])
        assert meta["task_id"] == task.id and meta["skill"] == task.skill
        assert body.startswith(OFFLINE_NOTICE)
        assert f"reviews/{task.output.removesuffix('.md')}.review.md" in stored
    # The folder people read is an export of the store, written by whoever asks for it.
    folder = export_goal(team.rt, goal.id)
    assert (folder / "plan.md").is_file() and (folder / "goal.md").is_file()
    assert all((folder / name).read_text() == text for name, text in stored.items())
    summary = (folder / "summary.md").read_text()
    assert "no model wrote" in summary.splitlines()[0]
    assert all(t.output in summary for t in done.tasks if t.output)


def test_goal_downstream_skill_receives_upstream_deliverables(team: Team) -> None:
    goal = team.goal("Increase signup conversion by 20%")
    done = team.wait(goal.id)

    last = done.tasks[-1]
    text = team.rt.documents.get(goal.id, str(last.output)) or ""
    earlier = {t.skill for t in done.tasks if t.phase_index == last.phase_index - 1}
    inputs = next(line for line in text.splitlines() if line.startswith("Built on the upstream"))
    assert earlier and all(skill in inputs for skill in earlier)


@pytest.mark.parametrize("template", sorted(load_catalog(None).pipelines))
def test_pipeline_template_runs_every_step(team: Team, template: str) -> None:
    spec = team.rt.catalog.pipeline(template)
    goal = team.pipeline(template)
    done = team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason
    assert done.pipeline == spec.name
    ran = [t.skill for t in done.tasks if t.skill != "product-marketing-context"]
    assert ran == [slug for step in spec.steps for slug in step.skills]
    assert all(t.status is TaskStatus.APPROVED for t in done.tasks)


def test_revision_short_deliverable_is_revised_and_the_pipeline_continues(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), SHORT, times=1)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED, done.status_reason
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.revision == 1 and copy.status is TaskStatus.APPROVED
    calls = [c for c in scripted.calls if c.is_skill("copywriting")]
    assert len(calls) == 2
    assert "<revision_feedback>" in calls[1].prompt and SHORT in calls[1].prompt
    first = scripted_team.rt.documents.get(goal.id, f"{copy.phase_index + 1:02d}-copywriting.md")
    assert first is not None and first.count(SHORT) == 1
    assert copy.output == f"{copy.phase_index + 1:02d}-copywriting.rev1.md"


def test_revision_fourth_failing_review_pauses_goal_waiting_for_human(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), SHORT, times=4)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.WAITING_HUMAN
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.status is TaskStatus.BLOCKED and copy.revision == 3
    later = [t for t in done.tasks if t.phase_index > copy.phase_index]
    assert all(t.status is TaskStatus.PENDING for t in later)


def test_review_rejected_empty_deliverable_gets_one_fresh_attempt(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), "", times=1)
    goal = scripted_team.pipeline("Copywriting Review Chain")
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED
    second = [c for c in scripted.calls if c.is_skill("copywriting")][1]
    assert "<previous_draft>" not in second.prompt  # a fresh attempt starts from the brief


def test_goal_p3_is_reviewed_structurally_without_model_reviews(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    goal = scripted_team.goal("Write a blog post about our launch", priority=Priority.P3)
    done = scripted_team.wait(goal.id)

    assert done.status is GoalStatus.COMPLETED
    assert scripted.count(lambda c: c.is_review()) == 0
