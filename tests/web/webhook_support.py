"""What the webhook tests share: request headers, a good body, and how a refusal must look."""

from __future__ import annotations

import json

from marketing_team.testing.team import Team
from marketing_team.testing.web_client import TOKEN, Response

JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
GOOD = json.dumps({"type": "new_blog_post", "data": {"url": "https://x.test/a"}}).encode()


def dispatched_nothing(team: Team) -> bool:
    """True when no goal and no event record exists: the request changed nothing."""
    return team.rt.goals.ids() == [] and team.rt.redis.keys("mt:events:*") == []


def error_of(reply: Response, status: int, field: str | None) -> str:
    """The error text of a refusal, after checking its status, JSON shape and the field it names."""
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json()
    assert set(body) <= {"error", "field"} and body["error"]
    assert body.get("field") == field
    return str(body["error"])
