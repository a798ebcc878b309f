"""`mtctl init` and `mtctl context set|show`: the product context every skill reads."""

from __future__ import annotations

from pathlib import Path

import click

from marketing_team.cli.common import say, settings
from marketing_team.director.product_context import drafted_context, newest_draft, send_file
from marketing_team.domain.errors import InputError
from marketing_team.domain.product_template import PRODUCT_TEMPLATE, is_unfilled
from marketing_team.ops.run_mode import store_session
from marketing_team.store.workspace import Workspace, atomic_write


@click.command("init")
@click.option("--force", is_flag=True, help="Replace an existing context/product.md.")
@click.option("--from", "from_goal", metavar="GOAL_ID",
              help="Start from the product context this goal drafted instead of the template.")
def init_cmd(force: bool, from_goal: str | None) -> None:
    """Create the workspace folders and a context/product.md for you to fill in (or review)."""
    cfg = settings()
    workspace = Workspace(cfg.workspace)
    workspace.ensure()
    path = workspace.context_file
    _refuse_to_replace(path, force, from_goal)
    with store_session(cfg) as rt:
        text = PRODUCT_TEMPLATE if from_goal is None else drafted_context(rt, from_goal)
        atomic_write(path, text)
        send_file(rt)
        earlier = newest_draft(rt) if from_goal is None else None
    if from_goal is not None:
        say(f"wrote {path} from the product context goal {from_goal} drafted "
            f"({len(text)} characters)")
        say("Check every fact in it: every skill reads this file before it writes. "
            "`mtctl goal` sends it again whenever it changed.")
        return
    say(f"wrote {path}")
    say("Fill in each section: every skill reads this file before it writes. "
        "`mtctl goal` sends it again whenever it changed.")
    if earlier is not None:
        say(f"goal {earlier} drafted a product context: `mtctl init --from {earlier}` starts "
            "this file from it")
    say(f"warning: {path} is the unfilled template: until you fill it in, skills get no product "
        "context and each plan starts by drafting one", err=True)


def _refuse_to_replace(path: Path, force: bool, from_goal: str | None) -> None:
    """Keep a context someone wrote unless --force; the unfilled template is replaced freely."""
    if force or not path.exists():
        return
    if from_goal is not None and is_unfilled(path.read_text(encoding="utf-8", errors="replace")):
        return
    if from_goal is None:
        raise InputError(f"{path} already exists; edit it, or run `mtctl init --force` to replace "
                         "it with the empty template")
    raise InputError(f"{path} already exists and is filled in; run `mtctl init --from {from_goal} "
                     "--force` to replace it with the goal's draft")


@click.group("context")
def context_group() -> None:
    """The product context the team reads (kept in Redis; context/product.md is its source)."""


@context_group.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def context_set(file: Path) -> None:
    """Send FILE to the team as the product context (every later skill call reads it)."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text") from None
    with store_session(settings()) as rt:
        record = rt.context.set(text, str(file.resolve()))
    say(f"product context set from {file} ({len(text)} characters, {record.sha})")
    if is_unfilled(text):
        say(f"warning: {file} is the unfilled template: skills get no product context until it "
            "is filled in", err=True)


@context_group.command("show")
def context_show() -> None:
    """Print the product context the team uses now, and where it came from."""
    with store_session(settings()) as rt:
        record = rt.context.record()
    if record is None or not record.text.strip():
        say("no product context yet: run `mtctl init`, or `mtctl context set FILE`")
        return
    if is_unfilled(record.text):
        say(f"warning: the context from {record.source} is the unfilled template, so skills get "
            "none; fill it in, or run `mtctl init --from <goal-id>`", err=True)
    say(f"# from {record.source} at {record.updated_at} ({record.sha})")
    say(record.text.rstrip())


def register(cli: click.Group) -> None:
    """Add this module's commands to `mtctl`."""
    cli.add_command(init_cmd)
    cli.add_command(context_group)
