"""A model that cannot produce a valid review never crashes a goal nor approves unreviewed work."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from marketing_team.config.settings import load_settings
from marketing_team.domain.goal import GoalStatus, TaskStatus
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.testing.team_responder import offline_responder

KEY = "sk-ant-test-review-fallback"


def test_review_malformed_json_is_reprompted_then_structural_review_decides(
        redis_server: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    answer = offline_responder()

    def respond(request: RecordedRequest) -> FakeReply:
        if "ReviewReply" in request.text():
            return FakeReply.text("I think it is great! {not json")
        return answer(request)

    with FakeAnthropic(responder=respond) as fake:
        settings = load_settings(_env_file=None, anthropic_api_key=KEY, anthropic_base_url=fake.url)
        with caplog.at_level(logging.WARNING), Team(redis_server, tmp_path / "ws",
                                                    AnthropicProvider(settings)) as team:
            done = team.wait(team.pipeline("SEO Cycle").id)

        reviews = [r for r in fake.requests if "ReviewReply" in r.text()]
    assert done.status is GoalStatus.COMPLETED
    assert all(t.status is TaskStatus.APPROVED for t in done.tasks)
    # one request and two re-prompts per deliverable, then the structural verdict
    assert len(reviews) == 3 * len(done.tasks)
    assert all(t.last_review is not None and t.last_review.reviewer == "structural" for t in done.tasks)
    assert all("model review was unusable" in (t.last_review.note if t.last_review else "") for t in done.tasks)
    assert any(getattr(r, "event", "") == "review_fallback" for r in caplog.records)
    assert KEY not in caplog.text
