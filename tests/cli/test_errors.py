"""Errors as a user meets them: one line naming the URL, variable or argument at fault, and
`--verbose` anywhere on the line shows that cause first, then the traceback, without library noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from marketing_team.cli.main import cli
from marketing_team.testing.processes import child_env
from marketing_team.testing.servers import free_port, refuse_writes, start_test_server

KEY = "sk-ant-test-NEVER-SHOW-0123456789abcdef"
# Libraries whose DEBUG chatter (178 lines for one failed goal) buried the cause.
NOISY = ("celery", "kombu", "amqp", "urllib3")


def _mtctl(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "marketing_team", *args], env=child_env(env),
                          capture_output=True, text=True, timeout=120)


def _refusing_model(tmp_path: Path) -> tuple[str, dict[str, str]]:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return closed, {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": closed,
                    "MT_LLM_MAX_RETRIES": "0", "WORKSPACE_DIR": str(tmp_path / "ws")}


def test_a_model_refusing_connections_is_one_line_naming_its_url_and_variable(tmp_path: Path) -> None:
    closed, env = _refusing_model(tmp_path)

    done = _mtctl(["goal", "Grow signups", "--category", "content"], env)

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert closed in lines[0] and "ANTHROPIC_BASE_URL" in lines[0] and "refused" in lines[0].lower()
    assert KEY not in done.stderr + done.stdout


def test_verbose_after_the_subcommand_shows_the_cause_first_then_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "   ", "--verbose"],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0] == "error: goal text is empty"
    assert "Traceback (most recent call last):" in lines[1:]


def test_verbose_before_the_double_dash_only_is_ours(tmp_path: Path) -> None:
    # After `--` the words are the goal's own: "--verbose" there is goal text, not our flag.
    result = CliRunner().invoke(cli, ["goal", "--dry-run", "--json", "--", "--verbose"],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "planned"


def test_verbose_shows_our_debug_logs_and_the_cause_without_library_debug_noise(tmp_path: Path) -> None:
    closed, env = _refusing_model(tmp_path)

    done = _mtctl(["goal", "Grow signups", "--category", "content", "--verbose"], env)

    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    noise = [r for r in records if r["level"] == "DEBUG" and r["logger"].split(".")[0] in NOISY]
    assert noise == [], f"{len(noise)} library debug lines, first: {noise[:1]}"
    assert any(r["level"] == "DEBUG" and r["logger"].startswith("marketing_team") for r in records)
    plain = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert plain[0].startswith("error: ") and closed in plain[0]
    assert plain[1] == "Traceback (most recent call last):"
    assert KEY not in done.stderr


def test_goal_text_that_is_not_utf8_is_one_line_naming_the_argument(tmp_path: Path) -> None:
    # Bytes that are not UTF-8 on the command line (`mtctl goal $'\xff\xfe bad'`) reach Python
    # as surrogate escapes; os.fsdecode makes exactly the string Python's own argv decoding would.
    text = os.fsdecode(b"\xff\xfe bad")

    result = CliRunner().invoke(cli, ["goal", text, "--dry-run"], env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "goal: TEXT" in lines[0] and "UTF-8" in lines[0] and "\\xff\\xfe bad" in lines[0]
    assert not (tmp_path / "goals").exists()


def test_an_option_value_that_is_not_utf8_is_named_by_its_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["goals", "list", "--status", os.fsdecode(b"run\xe9")],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "error: mtctl goals list: --status is not valid UTF-8 text: 'run\\xe9' (the terminal or "
        "script passed bytes in another encoding; check LANG/LC_ALL)"]


def test_a_real_process_given_non_utf8_argv_bytes_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable.encode(), b"-m", b"marketing_team", b"goal",
                           b"\xff\xfe bad", b"--dry-run"],
                          env=child_env({"WORKSPACE_DIR": str(tmp_path)}), capture_output=True,
                          timeout=60)

    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and b"goal: TEXT" in done.stderr


@pytest.mark.parametrize("cause, words", [
    ("OOM", "maxmemory"), ("READONLY", "replica"), ("MISCONF", "disk")])
def test_redis_refusing_writes_is_one_line_naming_the_server_and_the_cause(
        tmp_path: Path, cause: str, words: str) -> None:
    server = start_test_server(tmp_path / "server")
    try:
        refuse_writes(server, cause)
        done = _mtctl(["schedules", "disable", "weekly-content"],
                      {"REDIS_URL": server.url, "WORKSPACE_DIR": str(tmp_path / "ws")})
    finally:
        server.kill()

    assert done.returncode == 3, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0]
    assert f"127.0.0.1:{server.port}" in lines[0] and "REDIS_URL" in lines[0]
    assert "refuses writes" in lines[0] and words in lines[0]


@pytest.mark.parametrize("variable", ["WORKSPACE_DIR", "ANTHROPIC_API_KEY"])
def test_a_setting_that_is_not_utf8_is_one_line_naming_the_variable(tmp_path: Path,
                                                                   variable: str) -> None:
    env = {k.encode(): v.encode() for k, v in child_env({"WORKSPACE_DIR": str(tmp_path)}).items()}
    env[variable.encode()] = b"/tmp/\xff\xfe-bad"
    done = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "list"], env=env,
                          capture_output=True, timeout=60)

    assert done.returncode == 2, done.stderr  # a configuration error
    assert done.stderr.decode().count("\n") == 1 and variable.encode() in done.stderr


# A catalog override is text someone else may have written, down to its folder names.
HOSTILE_NAME = "y\x1b]0;pwned\x07\x1b[2J\x9b31m\x9d0;c1\x9c"
SEQUENCES = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c")


def _hostile_catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog" / "skills" / HOSTILE_NAME
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: [unclosed\n---\nbody\n")
    return tmp_path / "catalog"


def test_an_error_naming_a_hostile_catalog_path_reaches_the_terminal_without_its_sequences(
        tmp_path: Path) -> None:
    env = {"WORKSPACE_DIR": str(tmp_path / "ws"), "MT_CATALOG_DIR": str(_hostile_catalog(tmp_path))}

    done = _mtctl(["skills", "list"], env)

    assert done.returncode == 2 and "invalid YAML front matter" in done.stderr
    assert not any(seq in done.stderr for seq in SEQUENCES), repr(done.stderr)


def test_a_worker_refusing_a_hostile_catalog_prints_its_one_line_without_sequences(
        tmp_path: Path) -> None:
    env = {"WORKSPACE_DIR": str(tmp_path / "ws"), "MT_CATALOG_DIR": str(_hostile_catalog(tmp_path)),
           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # refused before any connection

    done = subprocess.run([sys.executable, "-m", "celery", "-A", "marketing_team", "worker"],
                          env=child_env(env), capture_output=True, text=True, timeout=120)

    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "invalid YAML front matter" in done.stderr
    assert not any(seq in done.stderr for seq in SEQUENCES), repr(done.stderr)
