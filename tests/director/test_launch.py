"""Planning a named pipeline: an optional topic carried into the goal and every step's instructions."""

from __future__ import annotations

import secrets

import pytest

from marketing_team.director.launch import plan_pipeline
from marketing_team.domain.errors import InputError
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team

TOPIC = "Our new Slack integration for florists"


def test_a_pipeline_topic_reaches_the_goal_description_and_every_step(team: Team) -> None:
    goal = plan_pipeline(team.rt, "Content Production", Priority.P1, topic=TOPIC)

    assert TOPIC in goal.description and goal.description.startswith("Run the Content Production")
    assert goal.priority is Priority.P1 and goal.pipeline == "Content Production"
    assert goal.tasks and all(TOPIC in task.requirements for task in goal.tasks)


def test_a_pipeline_without_a_topic_is_planned_as_before(team: Team) -> None:
    goal = plan_pipeline(team.rt, "Content Production", None)

    assert goal.priority is Priority.P2  # the template's default
    assert goal.description.startswith("Run the Content Production pipeline: Plan a batch")
    assert not any("Topic:" in task.requirements for task in goal.tasks)


def test_every_skill_of_a_pipeline_run_is_asked_about_the_topic(scripted_team: Team,
                                                               scripted: ScriptedLLM) -> None:
    goal = scripted_team.launch(plan_pipeline(scripted_team.rt, "Content Production", None,
                                              topic=TOPIC))
    assert scripted_team.wait(goal.id).status is GoalStatus.COMPLETED

    skill_prompts = [call.prompt for call in scripted.calls if call.schema is None]
    assert len(skill_prompts) >= len(goal.tasks)
    assert all(TOPIC in prompt for prompt in skill_prompts)


@pytest.mark.parametrize(("topic", "words"), [("   ", "topic is empty"),
                                              ("x" * 501, "topic is longer than 500 characters")])
def test_a_bad_topic_is_one_line_naming_the_topic(team: Team, topic: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        plan_pipeline(team.rt, "Content Production", None, topic=topic)


def test_a_topic_is_one_line_whatever_whitespace_it_came_with(team: Team) -> None:
    goal = plan_pipeline(team.rt, "SEO Cycle", None, topic="  florists\n\tin   Berlin ")

    assert all("Topic: florists in Berlin\n" in task.requirements for task in goal.tasks)


@pytest.mark.parametrize("plan", ["goal", "pipeline"])
def test_a_new_goal_whose_drawn_id_is_taken_gets_another(idle: Team, monkeypatch: pytest.MonkeyPatch,
                                                          plan: str) -> None:
    # A goal id is 24 random bits a day (SPEC: `goal-YYYYMMDD-<6 hex>`): a busy day draws one
    # that an earlier goal of the day has, and storing the new goal then failed.
    earlier = idle.goal("Increase signup conversion by 20%")
    draws = iter([earlier.id.rsplit("-", 1)[1]])
    real = secrets.token_hex
    monkeypatch.setattr(secrets, "token_hex", lambda n: (next(draws, None) if n == 3 else None) or real(n))

    goal = (idle.goal("Write a launch email") if plan == "goal"
            else idle.pipeline("Content Production", Priority.P1))

    assert goal.id != earlier.id
    assert idle.rt.goals.load(goal.id).description == goal.description
    assert idle.rt.goals.load(earlier.id).description == earlier.description
