"""Settings: every invalid value fails at start naming its variable; secrets never show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marketing_team.config.settings import load_settings, mask_url
from marketing_team.domain.errors import ConfigurationError
from marketing_team.testing.processes import child_env


@pytest.mark.parametrize("name, value", [
    ("BUDGET_MONTHLY", "a lot"),              # bad number
    ("MAX_PARALLEL_AGENTS", "0"),             # out of range
    ("LOG_FORMAT", "xml"),                    # bad enum
    ("MT_LLM_PROVIDER", "gpt"),               # bad enum
    ("REDIS_URL", "http://localhost:6379"),   # bad URL scheme
    ("ANTHROPIC_BASE_URL", "ftp://proxy"),    # bad URL scheme
    ("MT_TIMEZONE", "Mars/Olympus"),          # unknown zone
    ("MT_GOAL_BUDGET_SHARE", "1.5"),          # share above 1
])
def test_settings_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings(_env_file=None)
    assert name in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("url", ["unix:///run/redis.sock?db=2", "redis+socket:///run/redis.sock?db=1"])
def test_settings_a_socket_url_naming_a_database_other_than_0_is_refused(
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    # kombu, which carries the queues, reads database 0 on a socket whatever the URL says: the
    # queues and the state would part (a sweeper reading the state's database sees no message)
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ConfigurationError, match="REDIS_URL.*database") as info:
        load_settings(_env_file=None)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("url", ["unix:///run/redis.sock", "unix:///run/redis.sock?db=0",
                                 "redis+socket:///run/redis.sock", "redis://cache:6379/2"])
def test_settings_accept_a_socket_on_database_0_and_any_database_over_tcp(
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    assert load_settings(_env_file=None).broker_url == url


def test_settings_hard_limit_must_exceed_soft_by_thirty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MT_SOFT_TIME_LIMIT", "100")
    monkeypatch.setenv("MT_HARD_TIME_LIMIT", "120")
    with pytest.raises(ConfigurationError, match="MT_HARD_TIME_LIMIT"):
        load_settings(_env_file=None)


def test_settings_are_frozen() -> None:
    settings = load_settings(_env_file=None)
    with pytest.raises(Exception, match="frozen"):
        settings.budget_monthly = 5  # type: ignore[misc]


def test_settings_provider_defaults_to_offline_and_anthropic_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).llm_provider == "offline"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-123")
    assert load_settings(_env_file=None).llm_provider == "anthropic"


def test_settings_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-123")
    monkeypatch.setenv("REDIS_URL", "redis://:pa55word@cache:6379/0")
    monkeypatch.setenv("MT_WEBHOOK_TOKEN", "tok-abcdef")
    text = repr(load_settings(_env_file=None)) + str(load_settings(_env_file=None))
    for secret in ("sk-ant-secret-123", "pa55word", "tok-abcdef"):
        assert secret not in text


def test_settings_redis_parts_build_a_url_and_masking_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss")
    url = load_settings(_env_file=None).broker_url
    assert url == "redis://:p%40ss@cache:6379/0"
    assert mask_url(url) == "redis://:***@cache:6379/0"


def test_settings_read_dotenv_file(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"  # type: ignore[operator]
    env.write_text("BUDGET_MONTHLY=250\n")
    assert load_settings(_env_file=str(env)).budget_monthly == 250


@pytest.mark.parametrize("command", [
    ["-m", "celery", "-A", "marketing_team", "worker", "--pool", "threads"],
    ["-m", "celery", "-A", "marketing_team", "beat", "-S", "marketing_team.orchestration.beat:Scheduler"],
    ["-m", "gunicorn", "marketing_team.web.wsgi:app", "--bind", "127.0.0.1:0"],
    ["-m", "gunicorn", "marketing_team.web.wsgi:app", "--logger-class",
     "marketing_team.web.gunicorn_logging.Logger", "--bind", "127.0.0.1:0"],
    ["-m", "gunicorn", "marketing_team.web.wsgi:app", "--config", "python:marketing_team.web.gunicorn_conf",
     "--bind", "127.0.0.1:0"],
])
def test_every_process_stops_on_an_invalid_setting_with_one_line_naming_it(
        command: list[str], tmp_path: Path) -> None:
    env = child_env({"MT_HEARTBEAT_TIMEOUT": "soon", "MT_WEBHOOK_TOKEN": "t", "WORKSPACE_DIR": str(tmp_path)})

    done = subprocess.run([sys.executable, *command], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)

    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert ours == ["error: invalid setting MT_HEARTBEAT_TIMEOUT: Input should be a valid integer, "
                    "unable to parse string as an integer"]
    assert "Traceback" not in done.stderr
