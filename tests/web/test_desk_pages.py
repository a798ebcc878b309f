"""The review desk's other pages and actions: the goals list, cancel and resume, starting a goal
after its dry run, the budget with its chart, the schedules' switches, and bad input."""

from __future__ import annotations

import re

import pytest

from marketing_team.budget.ledger import month_of
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.values import utcnow
from marketing_team.testing.team import Team
from tests.web.desk_client import DeskClient, call


def test_goals_list_is_newest_first_with_status_progress_and_cost(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    older = quiet_team.goal("Write <b>bold</b> onboarding emails")
    newer = quiet_team.goal("Audit the SEO of our pricing page")

    html = quiet_desk.get("/desk/").text

    assert html.index(newer.id) < html.index(older.id)
    assert "Write &lt;b&gt;bold&lt;/b&gt; onboarding emails" in html
    assert f"phase 1 of {len(newer.plan.phases)}" in html and "running" in html and "$0.0000" in html


def test_goals_list_filters_by_status_and_names_a_bad_one(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    kept = quiet_team.goal("Increase signup conversion by 20%")
    cancelled = quiet_team.goal("Plan a product launch")
    quiet_desk.post(f"/desk/goals/{cancelled.id}/cancel", {}, csrf=quiet_desk.token())

    only = quiet_desk.get("/desk/?status=cancelled").text
    bad = quiet_desk.get("/desk/?status=sleeping")

    assert cancelled.id in only and kept.id not in only
    assert bad.status == 400 and "<strong>status</strong>" in bad.text


def test_cancel_then_resume_from_the_goal_page(quiet_team: Team, quiet_desk: DeskClient) -> None:
    goal = quiet_team.goal("Increase signup conversion by 20%")
    page = quiet_desk.get(f"/desk/goals/{goal.id}").text
    assert f'action="/desk/goals/{goal.id}/cancel"' in page
    assert f'action="/desk/goals/{goal.id}/resume"' not in page  # running: nothing to resume

    cancelled = quiet_desk.post(f"/desk/goals/{goal.id}/cancel", {}, csrf=quiet_desk.token())
    assert cancelled.headers["Location"] == f"/desk/goals/{goal.id}?done=cancelled"
    assert quiet_team.rt.goals.load(goal.id).status is GoalStatus.CANCELLED
    again = quiet_desk.post(f"/desk/goals/{goal.id}/cancel", {}, csrf=quiet_desk.token())
    assert again.status == 400 and "already cancelled" in again.text


def test_resume_continues_a_failed_goal_as_a_new_run(quiet_team: Team, quiet_desk: DeskClient) -> None:
    goal = quiet_team.goal("Increase signup conversion by 20%")
    quiet_team.rt.goals.update(goal.id, lambda g: setattr(g, "status", GoalStatus.FAILED))
    assert f'action="/desk/goals/{goal.id}/resume"' in quiet_desk.get(f"/desk/goals/{goal.id}").text

    reply = quiet_desk.post(f"/desk/goals/{goal.id}/resume", {}, csrf=quiet_desk.token())

    assert reply.status == 303
    resumed = quiet_team.rt.goals.load(goal.id)
    assert resumed.status is GoalStatus.RUNNING and resumed.run == goal.run + 1


def test_unknown_goal_is_404_and_a_malformed_id_is_404(quiet_desk: DeskClient) -> None:
    assert quiet_desk.get("/desk/goals/goal-20260101-abcdef").status == 404
    assert quiet_desk.get("/desk/goals/..%2f..%2fetc").status == 404


def test_start_shows_the_dry_run_plan_and_estimate_and_stores_nothing(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    reply = quiet_desk.post("/desk/start/plan", {"text": "Increase signup conversion by 20%",
                                                 "priority": "P2", "pipeline": ""},
                            csrf=quiet_desk.token())

    assert reply.status == 200
    assert "dry run: nothing started yet" in reply.text
    assert "Estimated cost" in reply.text and "with Anthropic's models" in reply.text
    assert 'action="/desk/start"' in reply.text
    assert quiet_team.rt.goals.ids() == []


def test_start_plans_saves_and_publishes_the_goal(quiet_team: Team, quiet_desk: DeskClient) -> None:
    reply = quiet_desk.post("/desk/start", quiet_desk.plan({
        "text": "Increase signup conversion by 20%", "priority": "P0", "pipeline": ""}))

    assert reply.status == 303
    goal_id = re.fullmatch(r"/desk/goals/(goal-[0-9a-f-]+)\?done=started",
                           reply.headers["Location"]).group(1)  # type: ignore[union-attr]
    goal = quiet_team.rt.goals.load(goal_id)
    assert goal.status is GoalStatus.RUNNING and goal.priority.value == "P0" and goal.source == "desk"


def test_start_a_pipeline_with_a_topic(quiet_team: Team, quiet_desk: DeskClient) -> None:
    reply = quiet_desk.post("/desk/start", quiet_desk.plan({
        "text": "our Slack integration", "priority": "P1", "pipeline": "SEO Cycle"}))

    goal = quiet_team.rt.goals.load(reply.headers["Location"].split("/")[-1].split("?")[0])
    assert goal.pipeline == "SEO Cycle" and "our Slack integration" in goal.description


@pytest.mark.parametrize(("form", "field"), [
    ({"text": "", "priority": "P1", "pipeline": ""}, "text"),
    ({"text": "x" * 2001, "priority": "P1", "pipeline": ""}, "text"),
    ({"text": "Grow", "priority": "P9", "pipeline": ""}, "priority"),
    ({"text": "Grow", "priority": "P1", "pipeline": "No Such Pipeline"}, "pipeline"),
])
def test_start_with_bad_input_names_the_field_and_starts_nothing(
        quiet_team: Team, quiet_desk: DeskClient, form: dict[str, str], field: str) -> None:
    for path in ("/desk/start/plan", "/desk/start"):
        reply = quiet_desk.post(path, form, csrf=quiet_desk.token())
        assert reply.status == 400
        assert f"<strong>{field}</strong>" in reply.text
    assert quiet_team.rt.goals.ids() == []


def test_budget_page_shows_level_spend_remaining_and_a_chart(quiet_desk: DeskClient) -> None:
    html = quiet_desk.get("/desk/budget").text

    assert f"Budget {month_of(utcnow())}" in html
    assert "normal" in html and "$1,000.00" in html
    assert '<svg class="chart"' in html and 'role="img"' in html
    assert 'id="schedules"' in html and "daily-social" in html and "Next firing" in html


def test_budget_month_must_be_yyyy_mm(quiet_desk: DeskClient) -> None:
    reply = quiet_desk.get("/desk/budget?month=2026-13")

    assert reply.status == 400 and "<strong>month</strong>" in reply.text


def test_schedule_switch_persists_and_the_page_shows_it(quiet_team: Team, quiet_desk: DeskClient) -> None:
    off = quiet_desk.post("/desk/schedules/daily-social/disable", {}, csrf=quiet_desk.token())

    assert off.status == 303
    assert quiet_team.rt.schedules.get("daily-social").enabled is False
    assert 'action="/desk/schedules/daily-social/enable"' in quiet_desk.get("/desk/budget").text
    quiet_desk.post("/desk/schedules/daily-social/enable", {}, csrf=quiet_desk.token())
    assert quiet_team.rt.schedules.get("daily-social").enabled is True
    unknown = quiet_desk.post("/desk/schedules/no-such/disable", {}, csrf=quiet_desk.token())
    assert unknown.status == 404


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/desk/nope", 404), ("POST", "/desk/", 405), ("GET", "/desk/start/plan", 405),
    ("GET", "/desk/static/../settings.py", 404), ("GET", "/desk/static/desk.js", 200),
])
def test_desk_unknown_paths_and_wrong_methods(quiet_desk: DeskClient, method: str, path: str,
                                              status: int) -> None:
    reply = (quiet_desk.get(path) if method == "GET"
             else quiet_desk.post(path, {}, csrf=quiet_desk.token()))

    assert reply.status == status
    if status == 405:
        assert reply.headers["Allow"]


def test_a_form_that_is_not_url_encoded_is_415(quiet_desk: DeskClient) -> None:
    reply = call(quiet_desk.app, "POST", "/desk/start", b"{}",
                 {"Content-Type": "application/json",
                  "Cookie": "; ".join(f"{k}={v}" for k, v in quiet_desk.cookies.items())})

    assert reply.status == 415 and "Content-Type" in reply.text
