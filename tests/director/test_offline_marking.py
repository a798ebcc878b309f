"""Offline runs say what they are: reviews and learnings are marked offline, and filler never
teaches a real model (issue 18, item 1)."""

from __future__ import annotations

from marketing_team.director.launch import plan_goal
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.store import frontmatter
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team


def test_an_offline_goal_stores_its_reviews_and_learnings_as_offline(team: Team) -> None:
    done = team.wait(team.goal("Increase signup conversion by 20%").id)
    assert done.status is GoalStatus.COMPLETED

    reviews = {name: text for name, text in team.rt.documents.all(done.id).items()
               if name.startswith("reviews/")}
    assert reviews
    for name, text in reviews.items():
        meta, _ = frontmatter.parse(text)
        assert meta["reviewer"] == "offline", name
    assert all(t.last_review is not None and t.last_review.reviewer == "offline" for t in done.tasks)

    learned = [item for item in team.rt.learnings.recent(100) if item.goal_id == done.id]
    assert learned and all(item.offline for item in learned)
    skill = done.tasks[0].skill
    assert team.rt.learnings.for_skill(skill) == []  # what real prompts read
    assert team.rt.learnings.for_skill(skill, offline=True)


def test_offline_learnings_never_reach_a_real_models_prompt(scripted_team: Team,
                                                            scripted: ScriptedLLM) -> None:
    scripted_team.rt.learnings.append(Learning(
        skill="copywriting", outcome=Outcome.SUCCESS, offline=True,
        lesson="Approved first time (overall 8.0) - filler"))
    scripted_team.rt.learnings.append(Learning(
        skill="copywriting", outcome=Outcome.FAILURE, lesson="A real lesson about headlines"))

    done = scripted_team.wait(scripted_team.pipeline("Copywriting Review Chain").id)

    assert done.status is GoalStatus.COMPLETED
    prompt = [c for c in scripted.calls if c.is_skill("copywriting")][-1].prompt
    assert "A real lesson about headlines" in prompt
    assert "filler" not in prompt


def test_an_offline_draft_is_titled_by_its_skill_not_by_the_system_prompt(team: Team) -> None:
    done = team.wait(team.pipeline("Content Production").id)
    assert done.status is GoalStatus.COMPLETED
    for name, text in team.rt.documents.all(done.id).items():
        if name.startswith("reviews/") or name == "summary.md":
            continue
        _, body = frontmatter.parse(text)
        title = next(line for line in body.splitlines() if line.startswith("# "))
        assert "headless" not in title, (name, title)


def test_learnings_follow_the_provider_that_ran_each_step_not_the_goals_first(team: Team) -> None:
    goal, _ = plan_goal(team.rt, "Grow signups from the pricing page", Priority.P2)
    started_with_a_model = goal.model_copy(update={"provider": "anthropic"})  # resumed offline

    done = team.wait(team.launch(started_with_a_model).id)

    learned = [item for item in team.rt.learnings.recent(100) if item.goal_id == done.id]
    assert learned and all(item.offline for item in learned)
