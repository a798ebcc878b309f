"""`mtctl init` and `mtctl context set|show`: the product context every skill reads."""

from __future__ import annotations

from pathlib import Path

import click

from marketing_team.cli.common import say, settings
from marketing_team.director.product_context import send_file
from marketing_team.domain.errors import InputError
from marketing_team.ops.run_mode import store_session
from marketing_team.store.workspace import Workspace, atomic_write

PRODUCT_TEMPLATE = """\
# Product marketing context

<!-- Every skill on the team reads this file before it writes anything. Replace each comment
with plain facts in your own words; short bullet points are fine. Leave out what you do not
know rather than guessing: the skills state their assumptions instead of inventing facts.
Delete the comments when you are done (they are harmless if you do not). -->

## Product
<!-- What it is in one sentence, what it does, who makes it, the price and plans, and how people
start (free trial, freemium, demo). Name the three features that matter most to buyers. -->

## Audience
<!-- Who buys and who uses: company size, industry, role, region, and what is going on for them
when they start looking. Say who the product is NOT for. -->

## Personas
<!-- Two or three people by role (e.g. "Head of Growth at a 50-person SaaS"): their goals, what
they are measured on, what they read, and the words they use for the problem. -->

## Pains
<!-- The problems that make people look for a product like this, in the customer's words, and
what each pain costs them (time, money, risk). Put the most painful first. -->

## Competitors
<!-- Named competitors and the other ways people solve the problem today (spreadsheets, an
agency, doing nothing). For each: who picks it and why, and where it falls short. -->

## Differentiation
<!-- Why someone picks us over each alternative above: the two or three differences a buyer
can verify, and the proof for each. Avoid claims every competitor could also make. -->

## Objections
<!-- What stops people from buying or switching (price, migration effort, security, "we
already have a tool") and the honest answer to each. -->

## Voice
<!-- How we sound: three or four adjectives with a "this, not that" example each, words we use
and words we never use, and how formal we are. Paste a paragraph of copy you like. -->

## Proof points
<!-- Facts the team may quote: customer names we may use, numbers with their source, reviews and
ratings, awards, certifications, guarantees. Anything not listed here will not be claimed. -->

## Goals
<!-- What marketing must achieve this quarter, with numbers and dates (e.g. "trial signups from
800 to 1,100 a month by 30 June"), the main channels, and the monthly budget. -->
"""


@click.command("init")
@click.option("--force", is_flag=True, help="Replace an existing context/product.md.")
def init_cmd(force: bool) -> None:
    """Create the workspace folders and a commented context/product.md for you to fill in."""
    cfg = settings()
    workspace = Workspace(cfg.workspace)
    workspace.ensure()
    path = workspace.context_file
    if path.exists() and not force:
        raise InputError(f"{path} already exists; edit it, or run `mtctl init --force` to "
                         "replace it with the empty template")
    atomic_write(path, PRODUCT_TEMPLATE)
    with store_session(cfg) as rt:
        send_file(rt)
    say(f"wrote {path}")
    say("Fill in each section: every skill reads this file before it writes. "
               "`mtctl goal` sends it again whenever it changed.")


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


@context_group.command("show")
def context_show() -> None:
    """Print the product context the team uses now, and where it came from."""
    with store_session(settings()) as rt:
        record = rt.context.record()
    if record is None or not record.text.strip():
        say("no product context yet: run `mtctl init`, or `mtctl context set FILE`")
        return
    say(f"# from {record.source} at {record.updated_at} ({record.sha})")
    say(record.text.rstrip())


def register(cli: click.Group) -> None:
    """Add this module's commands to `mtctl`."""
    cli.add_command(init_cmd)
    cli.add_command(context_group)
