"""LLM faults at 20 % (429, 500, timeout, truncation, invalid JSON): every goal ends in a typed status."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from marketing_team.config.settings import load_settings
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team
from marketing_team.testing.team_responder import offline_responder

KEY = "sk-ant-test-faults"
GOALS = 6
FAULT_RATE = 0.2
TYPED_END = {GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.WAITING_HUMAN}


def test_reliability_injected_llm_faults_never_hang_a_goal(redis_server: RunningServer, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    lock = threading.Lock()
    answer = offline_responder()
    injected: list[str] = []

    def respond(request: RecordedRequest) -> FakeReply:
        with lock:
            roll = rng.random()
            kind = rng.choice(["429", "500", "timeout", "truncated", "invalid"]) if roll < FAULT_RATE else "ok"
            injected.append(kind)
        if kind == "429":
            return FakeReply.rate_limited(retry_after=0.05)
        if kind == "500":
            return FakeReply.server_error()
        if kind == "timeout":
            return FakeReply.slow(2.0)  # beyond the 1 s per-call timeout
        good = answer(request)
        if kind == "truncated":
            return FakeReply.truncated(good.content[: len(good.content) // 2])
        if kind == "invalid" and "JSON schema" in request.text():
            return FakeReply.text("{this is not json")
        return good

    with FakeAnthropic(responder=respond) as fake:
        settings = load_settings(_env_file=None, anthropic_api_key=KEY, anthropic_base_url=fake.url,
                                 llm_timeout_s=1.0, llm_max_retries=2)
        with Team(redis_server, tmp_path / "ws", AnthropicProvider(settings)) as team:
            goals = [team.pipeline(name).id for name in
                     ("SEO Cycle", "Page Launch", "Retention Sprint", "Outreach Campaign",
                      "Competitive Response", "Content Production")][:GOALS]
            ended = [team.wait(goal_id, timeout_s=150) for goal_id in goals]

    assert all(goal.status in TYPED_END for goal in ended), [(g.id, g.status) for g in ended]
    assert sum(goal.status is GoalStatus.COMPLETED for goal in ended) >= GOALS // 2
    assert {"429", "500", "timeout", "truncated"} <= set(injected)
    for goal in ended:
        for task in goal.tasks:
            if task.error:
                assert task.error.split(":")[0].endswith("Error")  # a typed reason, not a crash
