"""`mtctl` itself: every command is listed, each loads only its own module, and errors are one line."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from marketing_team.cli.main import COMMANDS, cli
from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.runtime import build_runtime
from marketing_team.testing.processes import child_env
from marketing_team.testing.servers import RunningServer


def test_every_command_module_registers_exactly_the_commands_the_table_lists() -> None:
    for module in set(COMMANDS.values()):
        group = click.Group()
        importlib.import_module(f"marketing_team.cli.{module}").register(group)
        listed = {name for name, owner in COMMANDS.items() if owner == module}
        assert set(group.commands) == listed, module


def test_help_lists_every_command() -> None:
    names = cli.list_commands(click.Context(cli))
    assert names == sorted(COMMANDS) and {"goal", "goals", "budget", "migrate"} <= set(names)


def _loaded_by(argv: list[str], wanted: str) -> tuple[str, list[str]]:
    """(stdout, the modules a fresh `mtctl <argv>` process loaded for which `wanted` is true)."""
    probe = (f"import sys, runpy; sys.argv = {['mtctl', *argv]!r};\n"
             "try:\n    runpy.run_module('marketing_team', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             f"import json; print(json.dumps(sorted(m for m in sys.modules if {wanted})))")
    result = subprocess.run([sys.executable, "-c", probe], env=child_env({}), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


def test_a_command_that_calls_no_broker_loads_neither_celery_nor_a_provider_sdk() -> None:
    out, loaded = _loaded_by(["skills", "list"],
                             "m.split('.')[0] in ('celery', 'kombu', 'anthropic', 'openai')")
    assert "copywriting" in out
    assert loaded == []


def test_a_command_run_with_json_prints_one_json_object_when_it_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "   ", "--json"],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"status": "error", "error": "goal text is empty",
                                         "exit_code": 2}


def test_control_sequences_in_goal_text_never_reach_the_terminal(redis_server: RunningServer,
                                                                 tmp_path: Path) -> None:
    hostile = ("Grow \x1b]0;pwned\x07signups \x9b31mnow\x1b[2J \x1b]8;;http://evil\x1b\\link"
               "\x1b]8;;\x1b\\\u202e")
    rt = build_runtime(load_settings(_env_file=None, workspace_dir=tmp_path, redis_url=redis_server.url),
                       redis_server.url)
    goal = plan_pipeline(rt, "Copywriting Review Chain", description=hostile)
    rt.goals.create(goal)
    env = {"REDIS_URL": redis_server.url, "WORKSPACE_DIR": str(tmp_path)}

    listed = CliRunner().invoke(cli, ["goals", "list"], env=env, color=True)
    shown = CliRunner().invoke(cli, ["goals", "show", goal.id], env=env, color=True)

    for result in (listed, shown):
        assert result.exit_code == 0, result.output
        # (our own colours may style the status line; nothing from the goal text survives)
        assert not any(seq in result.output for seq in ("\x07", "\x9b", "\x9d", "\x1b]", "\x1b[2J",
                                                        "\u202e"))
    assert "Grow signups now link" in listed.output


def test_a_dry_run_with_json_prints_the_plan_as_one_json_object(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "Increase signup conversion by 20%", "--dry-run", "--json"],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["status"] == "planned" and plan["phases"] and plan["provider"] == "offline"


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    env = child_env({"WORKSPACE_DIR": str(tmp_path)})
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m marketing_team skills list | head -1; "
                           "exit ${PIPESTATUS[0]}"], env=env, capture_output=True, text=True, timeout=60)

    assert done.stdout.startswith("SQUAD")
    assert done.stderr == ""  # no "internal error: BrokenPipeError"
    assert done.returncode in (0, 141)  # 141: the shell's code for a process ended by SIGPIPE


def test_a_workspace_that_is_not_a_directory_is_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = child_env({"WORKSPACE_DIR": str(blocker)})

    done = subprocess.run([sys.executable, "-m", "marketing_team", "goals", "list"], env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 74
    assert done.stderr.count("\n") == 1 and str(blocker) in done.stderr
    assert "WORKSPACE_DIR" in done.stderr and "internal error" not in done.stderr


def test_commands_load_the_review_desk_only_to_serve_it() -> None:
    # --help loads every command module; only `serve` (and gunicorn) needs templates and markdown
    out, loaded = _loaded_by(["--help"], "m.split('.')[0] in ('jinja2', 'markdown_it') "
                                         "or m.startswith('marketing_team.web')")
    assert "serve" in out
    assert loaded == []
