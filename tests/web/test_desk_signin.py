"""Sign-in under attack and sessions that end: the throttle per real client (behind the proxy too),
a burst that cannot outrun the limit, sign-out and a renamed user ending sessions on the server,
cookies and `next` values the desk did not write, and Redis going away mid sign-in."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.testing.team import Team
from marketing_team.web.desk.http import client_address
from marketing_team.web.desk.login import MAX_FAILURES
from marketing_team.web.desk.session import Keys
from tests.web.conftest import desk_app
from tests.web.desk_client import PASSWORD, DeskClient, csrf_of

ATTACKER, VICTIM = "203.0.113.66", "198.51.100.7"


def _behind_proxy(team: Team, client_address: str) -> DeskClient:
    # The README's nginx: it connects from 127.0.0.1 and sets X-Forwarded-For to the client.
    return DeskClient(desk_app(team), sent={"X-Forwarded-For": client_address})


def test_desk_sign_in_failures_behind_the_proxy_lock_out_only_their_own_client(
        quiet_team: Team) -> None:
    attacker = _behind_proxy(quiet_team, ATTACKER)
    for _ in range(MAX_FAILURES):
        assert attacker.login("admin", "a-wrong-guess-99").status == 401

    refused = attacker.login()
    victim = _behind_proxy(quiet_team, VICTIM).login()

    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 900
    assert victim.status == 303


def test_desk_forwarded_for_from_an_untrusted_peer_is_ignored(quiet_team: Team) -> None:
    # Straight to gunicorn from the internet: a made-up header must not give fresh addresses.
    app = desk_app(quiet_team)
    for n in range(MAX_FAILURES):
        client = DeskClient(app, sent={"X-Forwarded-For": f"192.0.2.{n}"}, remote_addr="10.9.8.7")
        assert client.login("admin", "a-wrong-guess-99").status == 401

    again = DeskClient(app, sent={"X-Forwarded-For": "192.0.2.200"}, remote_addr="10.9.8.7")

    assert again.login().status == 429


def test_desk_successful_sign_in_resets_the_clients_failure_count(quiet_team: Team) -> None:
    client = _behind_proxy(quiet_team, VICTIM)
    for _ in range(MAX_FAILURES - 1):
        assert client.login("admin", "a-typo-password").status == 401
    assert client.login().status == 303
    client.cookies.clear()

    replies = [client.login("admin", "a-typo-password").status for _ in range(MAX_FAILURES - 1)]

    assert replies == [401] * (MAX_FAILURES - 1)
    assert client.login().status == 303


def test_desk_sign_in_burst_gets_at_most_the_limit_of_password_checks(quiet_team: Team) -> None:
    app = desk_app(quiet_team)
    form = DeskClient(app)
    token = csrf_of(form.get("/desk/login").text)  # one form token, reused by every request
    start = threading.Barrier(60)
    statuses: Counter[int] = Counter()

    def guess(n: int) -> None:
        client = DeskClient(app, cookies=dict(form.cookies))
        start.wait()
        reply = client.post("/desk/login", {"user": "admin", "password": f"guess-{n}-xxxxxx"},
                            csrf=token)
        statuses[reply.status] += 1

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses[401] <= MAX_FAILURES and statuses[401] + statuses[429] == 60, statuses


def test_desk_sign_out_ends_the_session_on_the_server(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    client.login()
    copied = dict(client.cookies)
    token = client.token()

    assert client.post("/desk/logout", {}, csrf=token).status == 303

    thief = DeskClient(desk_app(quiet_team), cookies=copied)
    assert thief.get("/desk/budget").status == 303  # back to sign-in
    assert thief.post("/desk/schedules/daily-social/disable", {}, csrf=token).status == 401
    assert quiet_team.rt.schedules.get("daily-social").enabled is None


def test_desk_session_is_bound_to_the_configured_user(quiet_team: Team) -> None:
    cookie = Keys("admin", PASSWORD).new_session("admin")
    assert Keys("lead", PASSWORD).session(cookie) is None
    client = DeskClient(desk_app(quiet_team))
    client.login()

    renamed = DeskClient(desk_app(quiet_team, console_user="lead"), cookies=dict(client.cookies))

    assert renamed.get("/desk/budget").status == 303


def test_desk_reads_its_cookies_beside_a_malformed_foreign_cookie(quiet_team: Team) -> None:
    for foreign in ({"other_app": "hello world"}, {"prefs": '{"a":1}'}, {"junk": '"unclosed'}):
        client = DeskClient(desk_app(quiet_team), cookies=dict(foreign))

        assert client.login().status == 303
        assert client.get("/desk/budget").status == 200


def test_desk_next_with_control_characters_goes_to_the_desk(quiet_team: Team) -> None:
    for target in ("/desk/\r\nSet-Cookie: evil=1", "/desk/\x00", "/desk/\t/evil", "/desk/\x7f",
                   # not Latin-1, or not printable: gunicorn refuses such a Location (a 500)
                   "/desk/\u20ac", "/desk/\u65e5\u672c", "/desk/\u2028x", "/desk/\ufeff", "/desk/\u202e",
                   "/desk/\xe9"):
        client = DeskClient(desk_app(quiet_team))

        reply = client.login(next_=target)

        assert reply.status == 303 and reply.headers["Location"] == "/desk/", repr(target)
        signed_in = client.get("/desk/login?next=/desk/%0D%0AX:%20y")
        assert signed_in.status == 303 and signed_in.headers["Location"] == "/desk/"


def test_desk_sign_in_keeps_the_query_of_the_page_asked_for(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    to_login = client.get("/desk/budget?month=2026-10").headers["Location"]
    page = client.get(to_login).text

    reply = client.post("/desk/login", {"user": "admin", "password": PASSWORD,
                                        "next": page.split('name="next" value="')[1].split('"')[0]
                                        .replace("&amp;", "&")},
                        csrf=csrf_of(page))

    assert reply.headers["Location"] == "/desk/budget?month=2026-10"


def test_desk_sign_in_while_redis_is_down_is_503(quiet_team: Team) -> None:
    client = DeskClient(desk_app(quiet_team))
    token = csrf_of(client.get("/desk/login").text)
    quiet_team.server.stop()
    try:
        reply = client.post("/desk/login", {"user": "admin", "password": PASSWORD}, csrf=token)
    finally:
        quiet_team.server.restart()

    assert reply.status == 503 and "Redis is unavailable" in reply.text


def test_client_address_is_the_rightmost_hop_no_trusted_proxy_added() -> None:
    trusted = load_settings(_env_file=None, web_trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_proxies
    chain = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7, 10.1.2.3"}

    assert client_address(chain, trusted) == "198.51.100.7"  # 6.6.6.6 the client wrote itself
    assert client_address({**chain, "REMOTE_ADDR": "192.0.2.9"}, trusted) == "192.0.2.9"
    # an entry that cannot be read counts on its own, never in the proxy's (everyone's) bucket
    assert client_address({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "junk"},
                          trusted) == "unreadable-forwarded-for"
    assert client_address(chain, ()) == "127.0.0.1"  # MT_WEB_TRUSTED_PROXIES="": no proxy trusted
    with pytest.raises(ConfigurationError, match="MT_WEB_TRUSTED_PROXIES"):
        load_settings(_env_file=None, web_trusted_proxies="nginx.local")


@pytest.mark.parametrize(("peer", "forwarded", "bucket"), [
    ("::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"),  # a dual-stack bind: still the proxy
    ("127.0.0.1", "203.0.113.9:5555", "203.0.113.9"),  # proxies that append the client's port
    ("127.0.0.1", "[2001:db8::2]:443", "2001:db8::/64"),
    ("127.0.0.1", "2001:DB8:0:0::1", "2001:db8::/64"),  # spellings of one address, one bucket
    ("2001:db8:0:0:aaaa::1", "", "2001:db8::/64"),  # an IPv6 host holds its whole /64
    ("::ffff:203.0.113.5", "", "203.0.113.5"),
])
def test_client_buckets_are_normalised_addresses(peer: str, forwarded: str, bucket: str) -> None:
    trusted = load_settings(_env_file=None).trusted_proxies  # the default: loopback
    environ = {"REMOTE_ADDR": peer, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
    assert client_address(environ, trusted) == bucket
