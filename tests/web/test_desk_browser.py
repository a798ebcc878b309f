"""The review desk in a real browser (Debian's Chromium, headless, driven by selenium): sign in,
open a goal that waits for a person, read its deliverable, revise it with notes, watch it go on."""

from __future__ import annotations

import shutil
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.domain.review_item import ItemStatus
from marketing_team.testing.team import Team
from tests.web.conftest import desk_app
from tests.web.desk_client import PASSWORD

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """No access log on the test's output."""


@pytest.fixture
def served(scripted_team: Team) -> Iterator[str]:
    """The web app (desk on) on a free loopback port, as gunicorn would serve it."""
    server = make_server("127.0.0.1", 0, desk_app(scripted_team), server_class=_Server,
                         handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium at a phone-ish width, so the page must read on a small screen."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=420,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_a_marketer_revises_a_waiting_deliverable_in_the_browser_and_sees_the_goal_go_on(
        scripted_team: Team, waiting_goal: Goal, served: str, browser: webdriver.Chrome,
        tmp_path: Path) -> None:
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)
    # Sign in: a stranger is sent to the form, and back to the desk after it.
    browser.get(f"{served}/desk/")
    assert "/desk/login" in browser.current_url
    browser.find_element(By.ID, "user").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'a[href="/desk/goals/{waiting_goal.id}"]'))

    # Open the goal that waits for a person and read its deliverable: the hostile markup is text.
    browser.find_element(By.CSS_SELECTOR, f'a[href="/desk/goals/{waiting_goal.id}"]').click()
    status = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-field="status"]'))
    assert status.text == "waiting_human"
    copy = next(t for t in waiting_goal.tasks if t.skill == "copywriting")
    latest = browser.find_element(By.CSS_SELECTOR, f"#task-{copy.id} details[open] .deliverable")
    assert '<script>alert("owned")</script>' in latest.text
    assert not latest.find_elements(By.CSS_SELECTOR, "script, img")
    assert [a.get_attribute("href") for a in latest.find_elements(By.TAG_NAME, "a")] == [
        "https://example.test/page"]

    # Decide in the queue, with the keyboard's form controls: revise with notes.
    browser.find_element(By.LINK_TEXT, "Review queue").click()
    notes = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "form.decide textarea"))
    notes.send_keys("Lead with the customer's pain; keep it under 200 words.")
    browser.find_element(By.CSS_SELECTOR, 'form.decide button[value="revise"]').click()

    # Back on the goal's page, which updates itself while the goal runs to its end.
    wait.until(lambda d: f"/desk/goals/{waiting_goal.id}" in d.current_url)
    assert "Sent back for a revision" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-field="status"]').text == "completed")
    # Only the page's script shows this: the page was updated in place, not reloaded.
    wait.until(lambda d: d.find_element(By.ID, "fresh").is_displayed())
    # ...and a goal that ended has nothing left to cancel
    wait.until(lambda d: not any(f.is_displayed() for f in
                                 d.find_elements(By.CSS_SELECTOR, "form[action$='/cancel']")))
    shot = tmp_path / "review-desk.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000

    assert scripted_team.rt.goals.load(waiting_goal.id).status is GoalStatus.COMPLETED
    assert [i.status for i in scripted_team.rt.reviews.list(None)] == [ItemStatus.REVISED]
