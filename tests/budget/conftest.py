"""Budget fixtures: the real SDK against the HTTP fake (answers drafted offline), paid teams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from budget_support import PAID, offline_answer

from marketing_team.budget.ledger import Ledger
from marketing_team.config.settings import load_settings
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.llm.anthropic_provider import AnthropicProvider
from marketing_team.testing.fake_anthropic import FakeAnthropic
from marketing_team.testing.servers import RunningServer, start_test_server
from marketing_team.testing.team import Team


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """The Anthropic fake answering every request with an offline draft or review."""
    with FakeAnthropic(default=None, responder=offline_answer) as server:
        yield server


@pytest.fixture
def paid_team(redis_server: RunningServer, tmp_path: Path, fake: FakeAnthropic) -> Iterator[Team]:
    """A team on the real worker whose calls go through the real SDK to the fake, $10 a month."""
    if not redis_server.running:
        redis_server.restart()
    values = {**PAID, "anthropic_base_url": fake.url}
    cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url,
                        **values)
    with Team(redis_server, tmp_path / "ws", AnthropicProvider(cfg), **values) as team:
        yield team


@pytest.fixture
def rt(redis_server: RunningServer, redis_client: object, tmp_path: Path,
       fake: FakeAnthropic) -> Iterator[Runtime]:
    """A paid runtime (real SDK against this module's fake) on the session server, empty."""
    cfg = load_settings(_env_file=None, workspace_dir=tmp_path / "ws", redis_url=redis_server.url,
                        **{**PAID, "anthropic_base_url": fake.url})
    yield build_runtime(cfg, redis_server.url, AnthropicProvider(cfg))


@pytest.fixture
def ledger(redis_client: redis.Redis) -> Ledger:
    """A ledger on the session server (empty)."""
    return Ledger(redis_client)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of the test's own, append-only (as production runs it), for killing and restarting."""
    server = start_test_server(tmp_path / "redis", appendonly=True)
    yield server
    server.kill()
