"""`mtctl validate`, `skills list|show` and `pipelines list`: the team catalog."""

from __future__ import annotations

import difflib
import re
from typing import Any

import click

from marketing_team.catalog.loader import load_catalog_from
from marketing_team.catalog.specs import (
    DIRECTOR_REVIEW,
    FOUNDATION,
    Catalog,
    PipelineSpec,
    SkillSpec,
)
from marketing_team.catalog.validate import validate_catalog
from marketing_team.cli.common import emit_json, say, settings
from marketing_team.domain.errors import NotFoundError

_PARENS = re.compile(r"\s*\([^()]*\)")


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
        say(str(problem))
    if problems:
        plural = "" if len(problems) == 1 else "s"
        say(f"catalog invalid: {len(problems)} problem{plural}")
        raise SystemExit(1)
    catalog = load_catalog_from(cfg.catalog_dir)
    if cfg.catalog_dir is not None:
        say(f"user catalog: {cfg.catalog_dir}")
    say(f"catalog OK: {len(_team_skills(catalog))} skills, {len(catalog.squads)} squads, "
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
            say()  # a blank line between squads keeps the groups readable
        previous = row[0]
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                   + "  " + row[3])
    squads = {s.squad for s in skills} - {FOUNDATION}
    say(f"\n{len(skills)} skills in {len(squads)} squads"
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
    say(spec.slug)
    for label, value in fields:
        say(f"  {label + ':':<13}{value}")
    say("  sections:")
    for index, section in enumerate(spec.sections, start=1):
        say(f"    {index}. {section}")
    say()
    say(spec.instructions)


def _pipeline_dict(spec: PipelineSpec) -> dict[str, Any]:
    return {"name": spec.name, "steps": len(spec.steps), "priority": spec.priority.value,
            "category": spec.category.value, "description": spec.description,
            "skills": [slug for step in spec.steps for slug in step.skills]}


@click.group("pipelines")
def pipelines_group() -> None:
    """The named templates `mtctl pipeline NAME` runs, every step of them."""


@pipelines_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def pipelines_list(as_json: bool) -> None:
    """Every pipeline with its step count, default priority and what it does."""
    pipelines = list(_catalog().pipelines.values())
    if as_json:
        emit_json([_pipeline_dict(spec) for spec in pipelines])
        return
    rows = [("PIPELINE", "STEPS", "PRIORITY")]
    rows += [(p.name, str(len(p.steps)), p.priority.value) for p in pipelines]
    descriptions = ["DESCRIPTION"] + [_one_line(p.description) for p in pipelines]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row, description in zip(rows, descriptions, strict=True):
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            + "  " + description)
    say(f'\n{len(pipelines)} pipelines; run one with `mtctl pipeline "<name>"`')


def register(cli: click.Group) -> None:
    """Add this module's commands to `mtctl`."""
    for command in (validate_cmd, skills_group, pipelines_group):
        cli.add_command(command)
