"""The review desk's goal page and review queue: what a marketer reads, and the three decisions,
which do what `mtctl reviews approve|revise|reject` does."""

from __future__ import annotations

import logging
import re

import pytest

from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.review import SCORE_DIMENSIONS
from marketing_team.domain.review_item import ItemStatus
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.team import Team
from tests.web.conftest import desk_app
from tests.web.desk_client import DeskClient


def _open_item(team: Team, goal: Goal) -> str:
    items = [i for i in team.rt.reviews.list(ItemStatus.OPEN) if i.goal_id == goal.id]
    assert len(items) == 1
    return items[0].id


def _assert_harmless(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html or \
        "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html
    assert not re.search(r'href="\s*javascript:', html, re.IGNORECASE)
    assert 'href="https://example.test/page" rel="noopener noreferrer nofollow"' in html


def test_review_queue_shows_the_open_item_why_it_waits_and_its_deliverable_escaped(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    page = desk.get("/desk/reviews")

    assert page.status == 200
    item_id = _open_item(scripted_team, waiting_goal)
    assert f'action="/desk/reviews/{item_id}/decide"' in page.text
    assert "did not pass review after 3 revision(s)" in page.text  # why it needs a person
    assert all(f'value="{choice}"' in page.text for choice in ("approve", "revise", "reject"))
    _assert_harmless(page.text)


def test_goal_page_shows_plan_revisions_beside_their_reviews_and_escapes_the_deliverable(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    page = desk.get(f"/desk/goals/{waiting_goal.id}")

    assert page.status == 200
    html = page.text
    assert "waiting_human" in html and "Plan" in html
    for phase in waiting_goal.plan.phases:
        assert phase.name in html
    # Four drafts of copywriting, each beside its own review, latest first.
    copy = next(t for t in waiting_goal.tasks if t.skill == "copywriting")
    section = html[html.index(f'id="task-{copy.id}"'):]
    section = section[:section.index("</section>")]
    assert re.findall(r"<summary>Revision (\d+)", section) == ["3", "2", "1", "0"]
    assert section.count('class="review"') == 4 and section.count("Verdict <strong>") == 4
    _assert_harmless(html)
    assert "Cost by skill" in html
    assert 'data-live="/desk/goals/' in html  # the page polls its live state


def test_goal_page_shows_the_seven_scores_of_a_scored_review(team: Team) -> None:
    goal = team.wait(team.pipeline("SEO Cycle").id)
    client = DeskClient(desk_app(team))
    client.login()

    html = client.get(f"/desk/goals/{goal.id}").text

    assert goal.status is GoalStatus.COMPLETED
    for name in SCORE_DIMENSIONS:
        assert name.replace("_", " ") in html
    assert "Summary" in html and "overall" in html


def test_goal_live_json_says_status_phase_cost_and_each_task(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    reply = desk.get(f"/desk/goals/{waiting_goal.id}/live.json")

    state = reply.json()
    assert reply.headers["Content-Type"] == "application/json"
    assert state["status"] == "waiting_human" and state["settled"] is True
    assert state["phases"] == len(waiting_goal.plan.phases)
    assert {t["id"] for t in state["tasks"]} == {t.id for t in waiting_goal.tasks}
    assert state["documents"] >= 8  # four drafts and their reviews at least


def test_revise_without_notes_is_refused_naming_the_field_and_changes_nothing(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    item_id = _open_item(scripted_team, waiting_goal)

    reply = desk.post(f"/desk/reviews/{item_id}/decide", {"decision": "revise", "notes": "  "},
                      csrf=desk.token("/desk/reviews"))

    assert reply.status == 400
    assert "<strong>notes</strong>" in reply.text
    assert scripted_team.rt.reviews.load(item_id).status is ItemStatus.OPEN


def test_unknown_decision_is_refused_naming_the_field(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    item_id = _open_item(scripted_team, waiting_goal)

    reply = desk.post(f"/desk/reviews/{item_id}/decide", {"decision": "maybe"},
                      csrf=desk.token("/desk/reviews"))

    assert reply.status == 400 and "<strong>decision</strong>" in reply.text


def test_revise_with_notes_reruns_the_skill_with_them_and_the_goal_completes(
        scripted_team: Team, scripted: ScriptedLLM, waiting_goal: Goal, desk: DeskClient,
        caplog: pytest.LogCaptureFixture) -> None:
    item_id = _open_item(scripted_team, waiting_goal)
    caplog.set_level(logging.INFO, logger="marketing_team.web.desk")

    reply = desk.post(f"/desk/reviews/{item_id}/decide",
                      {"decision": "revise", "notes": "Lead with the customer's pain"},
                      csrf=desk.token("/desk/reviews"))

    assert reply.status == 303
    assert reply.headers["Location"] == f"/desk/goals/{waiting_goal.id}?done=revised"
    done = scripted_team.wait(waiting_goal.id)
    assert done.status is GoalStatus.COMPLETED
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.status is TaskStatus.APPROVED and copy.revision == 4
    assert "Lead with the customer's pain" in (copy.feedback or "")
    item = scripted_team.rt.reviews.load(item_id)
    assert item.status is ItemStatus.REVISED and item.notes == "Lead with the customer's pain"
    actions = [r for r in caplog.records if getattr(r, "event", "") == "desk_action"
               and getattr(r, "action", "") == "revise"]
    assert [(r.user, r.item, r.goal_id) for r in actions] == [("admin", item_id, waiting_goal.id)]  # type: ignore[attr-defined]
    assert "Sent back for a revision" in desk.get(reply.headers["Location"]).text


def test_approve_resumes_the_paused_goal_and_a_second_decision_is_refused(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    item_id = _open_item(scripted_team, waiting_goal)
    token = desk.token("/desk/reviews")

    reply = desk.post(f"/desk/reviews/{item_id}/decide", {"decision": "approve"}, csrf=token)

    assert reply.status == 303
    done = scripted_team.wait(waiting_goal.id)
    assert done.status is GoalStatus.COMPLETED
    assert next(t for t in done.tasks if t.skill == "copywriting").status is TaskStatus.APPROVED
    again = desk.post(f"/desk/reviews/{item_id}/decide", {"decision": "reject"}, csrf=token)
    assert again.status == 400 and "already approved" in again.text
    assert item_id in desk.get("/desk/reviews").text  # listed among the decided


def test_reject_fails_the_task_and_the_goal_moves_on_by_policy(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    item_id = _open_item(scripted_team, waiting_goal)

    reply = desk.post(f"/desk/reviews/{item_id}/decide", {"decision": "reject", "notes": "Off brand"},
                      csrf=desk.token("/desk/reviews"))

    assert reply.status == 303
    done = scripted_team.wait(waiting_goal.id)
    copy = next(t for t in done.tasks if t.skill == "copywriting")
    assert copy.status is TaskStatus.FAILED and "Off brand" in (copy.error or "")
    assert scripted_team.rt.reviews.load(item_id).status is ItemStatus.REJECTED


def test_unknown_review_item_is_404(scripted_team: Team, desk: DeskClient) -> None:
    reply = desk.post("/desk/reviews/review-20260101-abcdef/decide", {"decision": "approve"},
                      csrf=desk.token())

    assert reply.status == 404


def test_revise_notes_within_the_textareas_maxlength_fit_however_the_browser_sends_newlines(
        scripted_team: Team, waiting_goal: Goal, desk: DeskClient) -> None:
    [item] = scripted_team.rt.reviews.list(ItemStatus.OPEN)
    notes = "\r\n".join(["x" * 99] * 40)  # 3999 characters as the textarea counts them

    reply = desk.post(f"/desk/reviews/{item.id}/decide", {"decision": "revise", "notes": notes},
                      csrf=desk.token("/desk/reviews"))

    assert reply.status == 303
    assert scripted_team.rt.reviews.load(item.id).status is ItemStatus.REVISED
