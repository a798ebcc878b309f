"""Who may use the review desk: sign-in, sessions, CSRF on every POST, and no secret on any page."""

from __future__ import annotations

import json
import logging

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.goal import GoalStatus
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, web_app
from marketing_team.web.desk.login import MAX_FAILURES
from marketing_team.web.desk.session import SESSION_S, Keys
from marketing_team.web.webhook import create_webhook_app
from tests.web.conftest import desk_app
from tests.web.desk_client import PASSWORD, DeskClient, csrf_of

PAGES = ["/desk/", "/desk/reviews", "/desk/start", "/desk/budget"]


def test_desk_pages_send_a_stranger_to_sign_in_and_back(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))

    for path in PAGES:
        reply = client.get(path)
        assert reply.status == 303
        assert reply.headers["Location"].startswith("/desk/login?next=/desk/")
    signed_in = client.post("/desk/login", {"user": "admin", "password": PASSWORD,
                                            "next": "/desk/budget"},
                            csrf=csrf_of(client.get("/desk/login").text))
    assert signed_in.headers["Location"] == "/desk/budget"
    assert client.get("/desk/budget").status == 200


@pytest.mark.parametrize(("user", "password"), [("admin", "wrong-password-123"), ("root", PASSWORD),
                                                 ("admin", ""), ("", PASSWORD),
                                                 ("admin", PASSWORD + "x")])
def test_desk_wrong_user_or_password_is_401_without_a_session(quiet_team: Team, user: str,
                                                              password: str) -> None:
    client = DeskClient(desk_app(quiet_team))

    reply = client.login(user, password)

    assert reply.status == 401
    assert "wrong user name or password" in reply.text
    assert "mt_desk" not in client.cookies
    assert client.get("/desk/").status == 303


def test_desk_refuses_sign_in_after_too_many_failures_from_one_address(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    for _ in range(MAX_FAILURES):
        assert client.login("admin", "not-the-password").status == 401

    reply = client.login()  # even the right password: the address is refused for a while

    assert reply.status == 429
    assert "mt_desk" not in client.cookies


def test_desk_sign_in_without_its_form_token_is_403(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    client.get("/desk/login")

    reply = client.post("/desk/login", {"user": "admin", "password": PASSWORD}, csrf="forged")

    assert reply.status == 403 and "security token" in reply.text
    assert "mt_desk" not in client.cookies


def test_desk_sign_in_goes_only_to_desk_pages(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    for target in ("https://evil.test/", "//evil.test/desk/", "/elsewhere", "/desk\\@evil.test"):
        client.cookies.clear()
        reply = client.post("/desk/login", {"user": "admin", "password": PASSWORD, "next": target},
                             csrf=csrf_of(client.get("/desk/login").text))
        assert reply.headers["Location"] == "/desk/"


@pytest.mark.parametrize("token", [None, "", "0" * 64, "from-another-session"])
def test_desk_post_without_the_sessions_csrf_token_is_403_and_changes_nothing(
        quiet_team: Team, token: str | None) -> None:
    goal = quiet_team.goal("Increase signup conversion by 20%")
    client = DeskClient(desk_app(quiet_team))
    client.login()
    if token == "from-another-session":
        other = DeskClient(desk_app(quiet_team))
        other.login()
        token = other.token()
    form = {} if token is None else {"csrf": token}

    for path in (f"/desk/goals/{goal.id}/cancel", "/desk/start",
                 "/desk/schedules/daily-social/disable", "/desk/logout"):
        reply = client.post(path, {**form, "text": "x"})
        assert reply.status == 403, path
        assert "security token" in reply.text

    assert quiet_team.rt.goals.load(goal.id).status is GoalStatus.RUNNING
    assert quiet_team.rt.schedules.get("daily-social").enabled is None
    assert len(quiet_team.rt.goals.ids()) == 1


def test_desk_post_without_a_session_is_401(quiet_team: Team) -> None:
    goal = quiet_team.goal("Increase signup conversion by 20%")
    client = DeskClient(desk_app(quiet_team))

    reply = client.post(f"/desk/goals/{goal.id}/cancel", {"csrf": "x"})

    assert reply.status == 401
    assert quiet_team.rt.goals.load(goal.id).status is GoalStatus.RUNNING


def test_desk_session_cookie_is_signed_bound_to_the_password_and_expires() -> None:
    keys = Keys("admin", PASSWORD)
    cookie = keys.new_session("admin", now=1_000_000.0)

    assert keys.session(cookie, now=1_000_000.0 + SESSION_S - 1) is not None
    assert keys.session(cookie, now=1_000_000.0 + SESSION_S + 1) is None  # expired
    assert Keys("admin", PASSWORD + "-changed").session(cookie, now=1_000_000.0) is None
    name, expires, nonce, signature = cookie.split(".")
    longer = ".".join((name, str(int(expires) + 10**6), nonce, signature))
    assert keys.session(longer, now=1_000_000.0) is None  # a stretched expiry breaks the signature
    assert keys.session("garbage", now=1_000_000.0) is None


def test_desk_sign_out_ends_the_session_in_this_browser(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    client.login()

    reply = client.post("/desk/logout", {}, csrf=client.token())

    assert reply.status == 303 and reply.headers["Location"] == "/desk/login"
    assert client.get("/desk/").status == 303


def test_desk_is_off_without_a_console_password(quiet_team: Team) -> None:
    app = web_app(quiet_team)  # a webhook token, no console password

    client = DeskClient(app)
    assert client.get("/desk/").status == 404
    assert client.get("/desk/login").status == 404


def test_desk_alone_serves_without_a_webhook_token_and_the_webhook_says_it_is_off(
        quiet_team: Team) -> None:
    cfg = load_settings(_env_file=None, workspace_dir=quiet_team.settings.workspace_dir,
                        redis_url=quiet_team.server.url, console_password=PASSWORD)
    app = create_webhook_app(cfg)
    client = DeskClient(app)

    assert client.login().status == 303
    hook = client.post("/webhook", {"type": "new_blog_post"})
    assert hook.status == 404 and "webhook is off" in hook.json()["error"]
    with pytest.raises(ConfigurationError, match="MT_WEBHOOK_TOKEN"):
        create_webhook_app(load_settings(_env_file=None, redis_url=quiet_team.server.url))


def test_console_password_shorter_than_twelve_characters_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="MT_CONSOLE_PASSWORD") as caught:
        load_settings(_env_file=None, console_password="short-pw")
    assert "short-pw" not in str(caught.value)


def test_desk_pages_and_logs_show_no_secret(quiet_team: Team, caplog: pytest.LogCaptureFixture) -> None:
    secret_url = quiet_team.server.url  # the Redis URL is a secret setting too
    goal = quiet_team.goal("Increase signup conversion by 20%")
    client = DeskClient(desk_app(quiet_team))
    caplog.set_level(logging.DEBUG)
    client.login("admin", "a-wrong-password-0")
    client.login()

    pages = [client.get(p) for p in [*PAGES, f"/desk/goals/{goal.id}", f"/desk/goals/{goal.id}/live.json",
                                     "/desk/login", "/desk/nope"]]

    everything = "\n".join(p.text for p in pages) + "\n".join(r.getMessage() + json.dumps(
        {k: str(v) for k, v in r.__dict__.items()}) for r in caplog.records)
    for secret in (PASSWORD, TOKEN, "a-wrong-password-0", client.cookies["mt_desk"], secret_url):
        assert secret not in everything


def test_desk_replies_carry_a_strict_content_security_policy(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    client.login()

    reply = client.get("/desk/")

    policy = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "no-store"
    session = next(c for c in client.cookies_set if c.startswith("mt_desk="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
