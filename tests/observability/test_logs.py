"""Logs: one JSON object per line with goal and task ids, Celery's lines included once, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketing_team.config.settings import Settings, load_settings
from marketing_team.domain.goal import GoalStatus
from marketing_team.llm.offline import OfflineProvider
from marketing_team.observability import logs
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team

API_KEY = "sk-ant-api03-FAKE-never-log-me-4f3e2d1c"
REDIS_PASSWORD = "redis-pass-FAKE-8a7b6c"
WEBHOOK_TOKEN = "hook-token-FAKE-0f9e8d"
HMAC_SECRET = "hmac-secret-FAKE-1a2b3c"
SECRETS = (API_KEY, REDIS_PASSWORD, WEBHOOK_TOKEN, HMAC_SECRET)
SECRET_SETTINGS = {"anthropic_api_key": API_KEY, "redis_password": REDIS_PASSWORD,
                   "webhook_token": WEBHOOK_TOKEN, "webhook_hmac_secret": HMAC_SECRET,
                   "llm_provider_choice": "offline"}


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Where configure() sends log lines in these tests; the root logger is restored afterwards."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    yield buffer
    logs.unconfigure()
    root.setLevel(level)


def _records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _settings(**extra: object) -> Settings:
    return load_settings(_env_file=None, **SECRET_SETTINGS, **extra)


def test_logs_of_a_goal_run_are_json_lines_with_goal_and_task_ids_and_no_secret(
        redis_server: RunningServer, redis_client: object, tmp_path: Path, captured: io.StringIO) -> None:
    # Given a team whose settings hold an API key, a Redis password, a webhook token and an HMAC secret
    with Team(redis_server, tmp_path / "ws", OfflineProvider(), **SECRET_SETTINGS) as team:
        logs.configure(team.settings, "worker", stream=captured)

        # When a goal runs to the end
        goal = team.goal("Increase signup conversion by 20%")
        assert team.wait(goal.id).status is GoalStatus.COMPLETED

    # Then every line is one JSON object; task lines carry goal and task ids; no secret appears
    text = captured.getvalue()
    records = _records(captured)
    assert len(records) == len(text.splitlines()) > 10
    assert all({"timestamp", "level", "event", "component", "message"} <= set(r) for r in records)
    finished = [r for r in records if r["event"] == "task_finished"]
    assert finished and all(r["goal_id"] == goal.id for r in finished)
    task_ids = {t.id for t in team.rt.goals.load(goal.id).tasks}
    skill_lines = [r for r in finished if str(r["task_name"]).startswith("skills.")]
    assert {r["task_id"] for r in skill_lines} == task_ids
    assert all(r["celery_task_id"] and r["skill"] and r["model"] for r in skill_lines)
    assert all("tokens_in" in r and "cost_usd" in r for r in skill_lines)
    for secret in SECRETS:
        assert secret not in text


def test_logs_mask_secrets_in_messages_arguments_extras_and_tracebacks(captured: io.StringIO) -> None:
    # Given logging configured with secrets in the settings
    logs.configure(_settings(redis_url=f"redis://:{REDIS_PASSWORD}@db:6379/0"), "cli", stream=captured)
    log = logging.getLogger("marketing_team.test")

    # When messages carry the secrets in every place a value can hide
    log.warning("key %s", API_KEY, extra={"event": "leak", "token": WEBHOOK_TOKEN})
    log.warning(f"url redis://:{REDIS_PASSWORD}@db:6379/0 and json {json.dumps(HMAC_SECRET)}")
    try:
        raise RuntimeError(f"failed with {API_KEY}")
    except RuntimeError:
        log.exception("boom", extra={"event": "boom"})

    # Then each is masked, and the lines are still JSON
    text = captured.getvalue()
    for secret in SECRETS:
        assert secret not in text
    records = _records(captured)
    assert records[0]["message"] == "key ***" and records[0]["token"] == "***"
    assert "RuntimeError: failed with ***" in str(records[2]["exc_info"])


def test_logs_configure_twice_keeps_one_handler(captured: io.StringIO) -> None:
    # Given configure called twice (a worker configures at init and again at setup_logging)
    logs.configure(_settings(), "worker", stream=io.StringIO())
    logs.configure(_settings(), "worker", stream=captured)

    # When one line is logged, Then it is written once
    logging.getLogger("celery.worker").warning("ready", extra={"event": "ready"})
    assert [r["event"] for r in _records(captured)] == ["ready"]


def test_logs_pretty_format_is_one_readable_line_with_context(captured: io.StringIO) -> None:
    # Given LOG_FORMAT=pretty
    logs.configure(_settings(log_format="pretty"), "cli", stream=captured)

    # When a line with context is logged
    logging.getLogger("x").info("done with %s", API_KEY, extra={
        "event": "skill_finished", "goal_id": "goal-20250101-abcdef", "skill": "copywriting"})

    # Then it reads as one line with the event, context and no secret
    line = captured.getvalue().strip()
    assert "\n" not in line and not line.startswith("{")
    assert "INFO" in line and "skill_finished: done with ***" in line
    assert "[goal_id=goal-20250101-abcdef skill=copywriting]" in line


def test_logs_task_ids_come_from_celery_arguments() -> None:
    assert logs.task_ids(("goal-20250101-abcdef", "copywriting-20250101-123abc"), {}) == (
        "goal-20250101-abcdef", "copywriting-20250101-123abc")
    assert logs.task_ids(({"task_id": "x"}, "goal-20250101-abcdef", 2), None) == ("goal-20250101-abcdef", None)
    assert logs.task_ids((), {"goal_id": "goal-20250101-abcdef"}) == ("goal-20250101-abcdef", None)
