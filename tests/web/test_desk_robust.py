"""Requests and records the desk did not expect: too many fields, a chunked form, a corrupt goal,
a Start pressed twice, text with bidi overrides. Each gets a clear answer, never a 500."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from marketing_team.domain.review_item import Reason
from marketing_team.store.goals import Unreadable, state_key
from marketing_team.testing.team import Team
from tests.web.desk_client import DeskClient, call


def test_desk_too_many_query_or_form_fields_is_400_naming_the_problem(
        quiet_desk: DeskClient) -> None:
    many = "&".join(f"a{i}=1" for i in range(25))
    query = quiet_desk.get(f"/desk/login?{many}")
    form = quiet_desk.post("/desk/start/plan", {f"f{i}": "1" for i in range(60)},
                           csrf=quiet_desk.token())

    assert query.status == 400 and "more than 20 fields" in query.text
    assert form.status == 400 and "more than 50 fields" in form.text


def test_desk_chunked_form_is_411(quiet_desk: DeskClient) -> None:
    body = urlencode({"csrf": quiet_desk.token(), "text": "Grow"}).encode()
    headers = {**quiet_desk._headers(), "Content-Type": "application/x-www-form-urlencoded",
               "Transfer-Encoding": "chunked"}

    reply = call(quiet_desk.app, "POST", "/desk/start/plan", body, headers)

    assert reply.status == 411 and "Content-Length" in reply.text


def test_desk_corrupt_goal_is_named_on_its_page_live_json_and_cancel(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    goal = quiet_team.goal("Increase signup conversion by 20%")
    quiet_team.rt.redis.set(state_key(goal.id), '{"broken": x')

    page = quiet_desk.get(f"/desk/goals/{goal.id}")
    live = quiet_desk.get(f"/desk/goals/{goal.id}/live.json")
    cancel = quiet_desk.post(f"/desk/goals/{goal.id}/cancel", {}, csrf=quiet_desk.token())

    assert page.status == 422 and "cannot be read" in page.text and goal.id in page.text
    assert live.status == 422 and "cannot be read" in live.json()["error"]
    assert cancel.status == 422


def test_desk_start_pressed_twice_starts_one_goal(quiet_team: Team, quiet_desk: DeskClient) -> None:
    fields = quiet_desk.plan({"text": "double submit", "priority": "P1", "pipeline": ""})

    first = quiet_desk.post("/desk/start", fields)
    again = quiet_desk.post("/desk/start", fields)

    assert first.status == again.status == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(quiet_team.rt.goals.ids()) == 1


def test_desk_start_without_the_plans_token_starts_nothing(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    for token in ("", "made-up-token"):
        reply = quiet_desk.post("/desk/start", {"text": "Grow", "priority": "P1", "pipeline": "",
                                                "start": token}, csrf=quiet_desk.token())
        assert reply.status == 400 and "<strong>start</strong>" in reply.text
    assert quiet_team.rt.goals.ids() == []


def test_a_start_token_starts_only_the_form_whose_plan_was_shown(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    # Given the plan shown for one goal
    fields = quiet_desk.plan({"text": "Grow the newsletter", "priority": "P3", "pipeline": ""})

    # When its Start button is pressed with another text or priority
    other_text = quiet_desk.post("/desk/start", {**fields, "text": "Something else entirely"})
    other_priority = quiet_desk.post("/desk/start", {**fields, "priority": "P0"})

    # Then nothing starts, and the button still starts the plan it showed
    assert [other_text.status, other_priority.status] == [400, 400]
    assert "form changed since its plan was shown" in other_text.text
    assert quiet_team.rt.goals.ids() == []
    assert quiet_desk.post("/desk/start", fields).status == 303
    assert [g.description for g in quiet_team.rt.goals.load_many(quiet_team.rt.goals.ids())
            if not isinstance(g, Unreadable)] == ["Grow the newsletter"]


def test_desk_strips_bidi_overrides_and_controls_from_what_it_shows(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    goal = quiet_team.goal("Grow signups")
    first = goal.tasks[0]
    quiet_team.rt.documents.put(goal.id, f"{first.phase_index + 1:02d}-{first.skill}.md",
                                "# Draft\n\nevil \u202etxt.exe\u202c and \x1b[31mred\x1b[0m text")
    page = quiet_desk.get(f"/desk/goals/{goal.id}").text

    assert "\u202e" not in page and "\x1b" not in page
    assert "evil txt.exe and red text" in page


def test_a_sequence_spanning_a_link_title_and_later_text_adds_no_attribute(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    # Given a draft whose OSC sequence opens in one link's title and closes in later text
    goal = quiet_team.goal("Grow signups")
    first = goal.tasks[0]
    quiet_team.rt.documents.put(
        goal.id, f"{first.phase_index + 1:02d}-{first.skill}.md",
        '# Draft\n\nSee [a](http://a.example "\x1b]") \x07 [b](http://b.example/onmouseover=alert(1)//)\n')

    page = quiet_desk.get(f"/desk/goals/{goal.id}").text

    # Then every link in the deliverable is a whole tag with only its own attributes
    body = page.split('id="deliverables-h"', 1)[1]
    tags = re.findall(r"<a\s[^>]*>", body)
    assert tags and all(re.fullmatch(r'<a href="[^"]*"( title="[^"]*")? rel="noopener noreferrer '
                                     r'nofollow">|<a href="#[^"]*">', tag) for tag in tags), tags


def test_desk_pages_through_every_open_item_and_goal_beyond_the_first_page(
        quiet_team: Team, quiet_desk: DeskClient) -> None:
    rt = quiet_team.rt
    oldest_goal, busy_goal = quiet_team.goal("Grow signups"), quiet_team.goal("Grow trials")
    items = [rt.reviews.new_item(oldest_goal.id, Reason.BUDGET, "the oldest one waits")]
    items += [rt.reviews.new_item(busy_goal.id, Reason.BUDGET, f"item {n}") for n in range(110)]
    for item in items:
        rt.reviews.save(item)

    first = quiet_desk.get("/desk/reviews")
    seen = set(re.findall(r'id="item-(review-[0-9a-f-]+)"', first.text))
    for number in (2, 3):
        seen |= set(re.findall(r'id="item-(review-[0-9a-f-]+)"',
                               quiet_desk.get(f"/desk/reviews?page={number}").text))

    assert "showing 1–50 of 111" in first.text and 'href="/desk/reviews?page=2"' in first.text
    assert seen == {i.id for i in items}
    assert quiet_desk.get("/desk/reviews?page=4").status == 404
    # digits only ASCII ones: '²' passes str.isdigit and int() refuses it
    assert [quiet_desk.get(f"/desk/reviews?page={p}").status for p in ("%C2%B2", "%D9%A1")] == [400, 400]
    assert quiet_desk.get("/desk/reviews?page=x").status == 400
    assert "111 items wait" in quiet_desk.get("/desk/").text
    assert "decision waits for you" in quiet_desk.get(f"/desk/goals/{oldest_goal.id}").text


def test_desk_goals_list_says_how_many_and_pages(quiet_team: Team, quiet_desk: DeskClient) -> None:
    first_goal = quiet_team.goal("The very first goal")
    for n in range(100):
        quiet_team.goal(f"Goal number {n}")

    page_one = quiet_desk.get("/desk/").text
    page_two = quiet_desk.get("/desk/?page=2").text

    assert "showing 1–100 of 101" in page_one and 'href="/desk/?page=2"' in page_one
    assert first_goal.id in page_two and "showing 101–101 of 101" in page_two
