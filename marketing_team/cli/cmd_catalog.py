"""`mtctl validate`, `skills list|show` and `init`: the team catalog and the product context."""

from __future__ import annotations

import difflib
import re
from typing import Any

import click

from marketing_team.catalog.loader import load_catalog_from
from marketing_team.catalog.specs import DIRECTOR_REVIEW, FOUNDATION, Catalog, SkillSpec
from marketing_team.catalog.validate import validate_catalog
from marketing_team.cli.common import emit_json, settings
from marketing_team.domain.errors import InputError, NotFoundError
from marketing_team.store.workspace import Workspace, atomic_write

_PARENS = re.compile(r"\s*\([^()]*\)")

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


def _catalog() -> Catalog:
    return load_catalog_from(settings().catalog_dir)


def _team_skills(catalog: Catalog) -> list[SkillSpec]:
    """The catalog's skills (not the built-in Director review) by squad, foundation first."""
    order = [FOUNDATION, *catalog.squads]
    listed = {slug: index for slugs in catalog.squads.values() for index, slug in enumerate(slugs)}
    skills = [s for s in catalog.skills.values() if s.slug != DIRECTOR_REVIEW]

    def key(spec: SkillSpec) -> tuple[int, str, int, str]:
        rank = order.index(spec.squad) if spec.squad in order else len(order)
        return rank, spec.squad, listed.get(spec.slug, len(listed)), spec.slug

    return sorted(skills, key=key)


def _one_line(text: str, width: int = 72) -> str:
    # Descriptions are written for the model (long, with the deliverable in parentheses); the
    # table wants the gist: the first clause without its parenthetical detail.
    first = _PARENS.sub("", text).split("; ")[0].split(". ")[0].strip().rstrip(".")
    return first if len(first) <= width else first[: width - 1].rstrip() + "…"


def _as_dict(spec: SkillSpec) -> dict[str, Any]:
    return {"slug": spec.slug, "name": spec.name, "description": spec.description,
            "squad": spec.squad, "tier": spec.tier, "sections": list(spec.sections),
            "min_words": spec.min_words, "downstream": list(spec.downstream),
            "source": str(spec.source)}


@click.command("validate")
def validate_cmd() -> None:
    """Check the merged catalog; print each problem as file:line: message; exit 1 on any."""
    cfg = settings()
    problems = validate_catalog(cfg.catalog_dir)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        plural = "" if len(problems) == 1 else "s"
        click.echo(f"catalog invalid: {len(problems)} problem{plural}")
        raise SystemExit(1)
    catalog = load_catalog_from(cfg.catalog_dir)
    if cfg.catalog_dir is not None:
        click.echo(f"user catalog: {cfg.catalog_dir}")
    click.echo(f"catalog OK: {len(_team_skills(catalog))} skills, {len(catalog.squads)} squads, "
               f"{len(catalog.pipelines)} pipelines, {len(catalog.schedules)} schedules, "
               f"{len(catalog.events)} event mappings")


@click.group("skills")
def skills_group() -> None:
    """The team's specialists: list them, or show one with its instructions."""


@skills_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def skills_list(as_json: bool) -> None:
    """Every skill with its squad, model tier and what it does, grouped by squad."""
    catalog = _catalog()
    skills = _team_skills(catalog)
    if as_json:
        emit_json([_as_dict(spec) for spec in skills])
        return
    rows = [("SQUAD", "SKILL", "TIER", "DESCRIPTION")]
    rows += [(s.squad, s.slug, s.tier, _one_line(s.description)) for s in skills]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous and previous != "SQUAD":
            click.echo()  # a blank line between squads keeps the groups readable
        previous = row[0]
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                   + "  " + row[3])
    squads = {s.squad for s in skills} - {FOUNDATION}
    click.echo(f"\n{len(skills)} skills in {len(squads)} squads"
               + (" + foundation" if any(s.squad == FOUNDATION for s in skills) else ""))


@skills_group.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def skills_show(slug: str, as_json: bool) -> None:
    """One skill: its front matter fields and its instructions."""
    catalog = _catalog()
    if slug not in catalog.skills:
        close = difflib.get_close_matches(slug, list(catalog.skills), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (see `mtctl skills list`)"
        raise NotFoundError(f"unknown skill {slug!r}{hint}")
    spec = catalog.skills[slug]
    if as_json:
        emit_json({**_as_dict(spec), "instructions": spec.instructions})
        return
    fields = [("name", spec.name), ("description", spec.description), ("squad", spec.squad),
              ("tier", spec.tier), ("min words", str(spec.min_words)),
              ("downstream", ", ".join(spec.downstream) or "-"), ("source", str(spec.source))]
    click.echo(spec.slug)
    for label, value in fields:
        click.echo(f"  {label + ':':<13}{value}")
    click.echo("  sections:")
    for index, section in enumerate(spec.sections, start=1):
        click.echo(f"    {index}. {section}")
    click.echo()
    click.echo(spec.instructions)


@click.command("init")
@click.option("--force", is_flag=True, help="Replace an existing context/product.md.")
def init_cmd(force: bool) -> None:
    """Create the workspace folders and a commented context/product.md for you to fill in."""
    workspace = Workspace(settings().workspace)
    workspace.ensure()
    path = workspace.context_file
    if path.exists() and not force:
        raise InputError(f"{path} already exists; edit it, or run `mtctl init --force` to "
                         "replace it with the empty template")
    atomic_write(path, PRODUCT_TEMPLATE)
    click.echo(f"wrote {path}")
    click.echo("Fill in each section: every skill reads this file before it writes.")


def register(cli: click.Group) -> None:
    """Add this module's commands to `mtctl`."""
    for command in (validate_cmd, skills_group, init_cmd):
        cli.add_command(command)
