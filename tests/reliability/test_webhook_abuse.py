"""10,000 generated bad requests at the webhook: no 5xx, nothing dispatched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketing_team.llm.offline import OfflineProvider
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, call, web_app
from marketing_team.web.webhook import WebhookApp

EVENT_TYPES = ["traffic_drop", "conversion_drop", "new_blog_post", "budget_warning", "nope", "", 7, None]
_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                        max_leaves=12)
# Bodies that are never a valid event: broken JSON, wrong shapes, bad types, bad field values.
_BAD_BODIES = st.one_of(
    st.binary(max_size=300),
    _JSONISH.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(EVENT_TYPES), "data": _JSONISH},
                          optional={"id": _JSONISH, "timestamp": st.text(max_size=30), "extra": _JSONISH}
                          ).filter(lambda d: not (isinstance(d.get("data"), dict) and d["type"] in (
                              "traffic_drop", "conversion_drop", "new_blog_post")
                              and "extra" not in d and isinstance(d.get("id", "x"), str)
                              and "timestamp" not in d)).map(lambda d: json.dumps(d).encode()),
)
_AUTH = st.sampled_from([None, "", "Bearer", "Bearer wrong", f"Bearer {TOKEN}", f"Basic {TOKEN}",
                         f"bearer {TOKEN}x"])
_TYPES = st.sampled_from([None, "application/json", "text/plain", "application/json; charset=utf-8",
                          "multipart/form-data"])


@pytest.fixture(scope="module")
def idle(redis_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A team without a worker: anything dispatched would stay visible in Redis and the workspace."""
    if not redis_server.running:
        redis_server.restart()
    with Team(redis_server, tmp_path_factory.mktemp("abuse") / "ws", OfflineProvider(), worker=False) as team:
        yield team


@pytest.fixture(scope="module")
def web(idle: Team) -> WebhookApp:
    """One web process's app."""
    return web_app(idle)


@pytest.mark.slow  # 10,000 generated requests: about 30 s on two cores
@settings(max_examples=10_000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=_BAD_BODIES, auth=_AUTH, content_type=_TYPES,
       method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]))
def test_reliability_webhook_bad_requests_get_no_5xx_and_dispatch_nothing(
        web: WebhookApp, idle: Team, body: bytes, auth: str | None, content_type: str | None,
        method: str) -> None:
    headers: dict[str, Any] = {}
    if auth is not None:
        headers["Authorization"] = auth
    if content_type is not None:
        headers["Content-Type"] = content_type
    reply = call(web, method, "/webhook", body, headers)
    assert 400 <= reply.status < 500, (reply.status, reply.body)


@pytest.mark.slow  # it checks what the property test above left behind
def test_reliability_webhook_abuse_dispatched_nothing(idle: Team) -> None:
    # Runs after the property test in this module (same team): no goal, no event claimed.
    assert idle.rt.goals.ids() == []
    assert idle.rt.redis.keys("mt:events:seen:*") == []
