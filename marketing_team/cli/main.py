"""`mtctl` entry point: the click group, command discovery, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import traceback
from typing import Any

import click

from marketing_team.cli.argv import VERBOSE, hoist_verbose, refuse_undecodable
from marketing_team.config.settings import load_settings, mask_url
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.text import terminal_safe
from marketing_team.observability.logs import configure

log = logging.getLogger(__name__)

INTERNAL_ERROR_EXIT = 70
OS_ERROR_EXIT = 74  # sysexits' EX_IOERR: a file or directory the machine refused


# Each command and the module that defines it. A module is imported when one of its commands runs
# (or for --help), so `mtctl skills list` never loads Celery and no command loads a provider SDK
# it does not call; tests/cli checks this table against what the modules register.
COMMANDS = {
    "budget": "cmd_budget", "context": "cmd_context", "events": "cmd_triggers",
    "goal": "cmd_goals", "goals": "cmd_goals", "health": "cmd_ops", "init": "cmd_context",
    "learnings": "cmd_reviews", "metrics": "cmd_ops", "migrate": "cmd_ops",
    "pipeline": "cmd_goals", "pipelines": "cmd_catalog", "reviews": "cmd_reviews", "schedules": "cmd_triggers",
    "serve": "cmd_triggers", "skills": "cmd_catalog", "up": "cmd_ops", "validate": "cmd_catalog",
}


class TeamGroup(click.Group):
    """A group that loads its commands lazily and turns our errors into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without importing a command module."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing (once) the module that defines it."""
        module = COMMANDS.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"marketing_team.cli.{module}").register(self)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the group's own options, `--verbose` accepted anywhere before `--`."""
        args = hoist_verbose(args)
        # The command's own words, checked in invoke, where errors become one line.
        ctx.meta["mt.argv"] = args[1:] if args[:1] == [VERBOSE] else list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # A command run with --json promises one JSON object on stdout, whatever happens.
        as_json = "--json" in ctx.args
        try:
            refuse_undecodable(self, ctx, ctx.meta.get("mt.argv", []))
            return super().invoke(ctx)
        except MarketingTeamError as exc:
            self._fail(ctx, f"error: {exc}", str(exc), exc.exit_code, as_json)
        except KeyboardInterrupt:
            self._fail(ctx, "interrupted", "interrupted", 130, as_json)
        except BrokenPipeError:
            # The reader went away (`mtctl goals list | head -1`): end quietly, as Unix tools do;
            # stdout is pointed at /dev/null so the final flush cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(128 + signal.SIGPIPE)
        except click.UsageError as exc:
            if as_json:
                self._fail(ctx, f"error: {exc.format_message()}", exc.format_message(),
                           exc.exit_code, as_json)
            raise
        except SystemExit as exc:
            # SIGTERM/SIGHUP arrive as SystemExit(128 + signal): the --json promise still holds
            if as_json and isinstance(exc.code, int) and exc.code > 128:
                self._fail(ctx, f"stopped by signal {exc.code - 128}", f"stopped by signal "
                           f"{exc.code - 128}", exc.code, as_json)
            raise
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            if exc.filename is None:
                raise
            # A path the machine refuses (not a directory, read-only, full disk): name it, and
            # the setting it came from when it lies in the workspace.
            where = str(exc.filename)
            workspace = os.environ.get("WORKSPACE_DIR", "")
            origin = " (under WORKSPACE_DIR)" if workspace and where.startswith(workspace) else ""
            text = f"{where}{origin}: {exc.strerror or type(exc).__name__}"
            self._fail(ctx, f"error: {text}", text, OS_ERROR_EXIT, as_json)
        except Exception as exc:  # noqa: BLE001 - the edge: anything unexpected becomes one line
            refusal = refused_writes(ctx, exc)
            if refusal is not None:
                self._fail(ctx, f"error: {refusal}", str(refusal), refusal.exit_code, as_json)
            text = f"{type(exc).__name__}: {exc}"
            self._fail(ctx, f"internal error: {text} (run with --verbose for details)",
                       f"internal error: {text}", INTERNAL_ERROR_EXIT, as_json)

    @staticmethod
    def _fail(ctx: click.Context, line: str, error: str, code: int, as_json: bool) -> None:
        """One line on stderr (with --verbose the traceback after it: the cause reads first, not
        below a screenful of frames), the JSON object too when asked for, and the exit code.
        The line loses every control sequence: it can quote a catalog path or a server's words."""
        click.echo(terminal_safe(line), err=True)
        if ctx.obj and ctx.obj.get("verbose") and sys.exc_info()[0] is not None:
            traceback.print_exc()
        if as_json:
            click.echo(json.dumps({"status": "error", "error": error, "exit_code": code}))
        ctx.exit(code)


@click.group(cls=TeamGroup)
@click.option(VERBOSE, is_flag=True,
              help="Show the traceback after an error and our debug logs (anywhere on the line).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """mtctl: run and watch the autonomous marketing team."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if ctx.invoked_subcommand in (None, "validate", "init", "skills", "pipelines"):
        return  # these read files only; a broken setting is reported by the commands that need it
    # Warnings and errors as JSON lines on stderr (progress stays readable); with --verbose our
    # own debug lines too, while Celery's and the clients' chatter stays at warnings.
    cfg = load_settings()
    configure(cfg, "cli", level="WARNING", verbose=verbose, quiet_libraries=True)
    log.debug("settings: provider %s, broker %s, workspace %s", cfg.llm_provider,
              mask_url(cfg.broker_url) if cfg.broker_url else "embedded", cfg.workspace_dir,
              extra={"event": "cli_settings"})


def refused_writes(ctx: click.Context, exc: Exception) -> MarketingTeamError | None:
    """The server refusing writes (MISCONF, OOM, READONLY), raised by Redis, redis-py or kombu,
    as one line naming the server, the cause and, when a command already started a goal (it says
    so in ctx.meta["mt.goal_id"]), the goal and the command that resumes it."""
    from marketing_team.observability import refusal  # redis-py: only when something failed

    cause = refusal.refusal_of(exc)
    if cause is None:
        return None
    try:
        url = load_settings().broker_url
    except MarketingTeamError:
        url = None
    server = (f"{mask_url(url)} (REDIS_URL)" if url else
              f"the embedded server (data under {os.environ.get('WORKSPACE_DIR', 'workspace')}/.state)")
    return refusal.refused(server, cause, ctx.meta.get("mt.goal_id"))


def main() -> None:
    """Console-script entry point."""
    cli.main(args=sys.argv[1:], prog_name="mtctl")
