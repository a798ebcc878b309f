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
from marketing_team.testing.processes import child_env


def test_every_command_module_registers_exactly_the_commands_the_table_lists() -> None:
    for module in set(COMMANDS.values()):
        group = click.Group()
        importlib.import_module(f"marketing_team.cli.{module}").register(group)
        listed = {name for name, owner in COMMANDS.items() if owner == module}
        assert set(group.commands) == listed, module


def test_help_lists_every_command() -> None:
    names = cli.list_commands(click.Context(cli))
    assert names == sorted(COMMANDS) and {"goal", "goals", "budget", "migrate"} <= set(names)


def test_a_command_that_calls_no_broker_loads_neither_celery_nor_a_provider_sdk() -> None:
    probe = ("import sys, runpy; sys.argv = ['mtctl', 'skills', 'list'];\n"
             "try:\n    runpy.run_module('marketing_team', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "import json; print(json.dumps(sorted(m for m in sys.modules "
             "if m.split('.')[0] in ('celery', 'kombu', 'anthropic', 'openai'))))")
    result = subprocess.run([sys.executable, "-c", probe], env=child_env({}), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "copywriting" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_a_command_run_with_json_prints_one_json_object_when_it_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["goal", "   ", "--json"],
                                env={"WORKSPACE_DIR": str(tmp_path)})

    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"status": "error", "error": "goal text is empty",
                                         "exit_code": 2}
