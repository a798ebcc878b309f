"""`mtctl` entry point: the click group, command discovery, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from typing import Any

import click

from marketing_team.domain.errors import MarketingTeamError

INTERNAL_ERROR_EXIT = 70


class TeamGroup(click.Group):
    """A group that turns our errors into one line and an exit code (tracebacks only with --verbose)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MarketingTeamError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the edge: anything unexpected becomes one line
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc} (run with --verbose for details)",
                       err=True)
            ctx.exit(INTERNAL_ERROR_EXIT)


@click.group(cls=TeamGroup)
@click.option("--verbose", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """mtctl: run and watch the autonomous marketing team."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if ctx.invoked_subcommand in (None, "validate", "init", "skills"):
        return  # these read files only; a broken setting is reported by the commands that need it
    from marketing_team.config.settings import load_settings
    from marketing_team.observability.logs import configure

    # Warnings and errors as JSON lines on stderr (progress stays readable); everything with --verbose.
    configure(load_settings(), "cli", level="DEBUG" if verbose else "WARNING")


def _discover() -> None:
    import marketing_team.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"marketing_team.cli.{info.name}")
            module.register(cli)


_discover()


def main() -> None:
    """Console-script entry point."""
    cli.main(args=sys.argv[1:], prog_name="mtctl")
