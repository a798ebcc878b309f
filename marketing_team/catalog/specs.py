"""Frozen typed specs the catalog loader returns."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue

from marketing_team.domain.errors import NotFoundError
from marketing_team.domain.event import EventType
from marketing_team.domain.goal import Category, PhaseSpec, Priority
from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.domain.values import Frozen, Tier

Operator = Literal["gt", "gte", "lt", "lte", "eq", "neq", "exists", "contains"]
SQUADS = ("strategy", "creative", "convert", "activate", "measure")
FOUNDATION = "foundation"
DIRECTOR_REVIEW = "director-review"


class SkillSpec(Frozen):
    """One specialist: what it produces, which model tier, and its instructions."""

    slug: str
    name: str
    description: str
    squad: str
    tier: Tier = "sonnet"
    sections: tuple[str, ...] = ()
    min_words: int = Field(150, ge=0)
    downstream: tuple[str, ...] = ()
    instructions: str
    source: Path


class PipelineStep(Frozen):
    """A template step: one skill, skills in parallel, or a review by a skill or the Director."""

    kind: Literal["skill", "parallel", "review"]
    skills: tuple[str, ...]


class PipelineSpec(Frozen):
    """A named template of steps."""

    name: str
    description: str = ""
    category: Category
    priority: Priority = Priority.P2
    steps: tuple[PipelineStep, ...] = Field(min_length=1)

    def phases(self) -> tuple[PhaseSpec, ...]:
        """The template as plan phases: every step becomes one phase, in order."""
        out: list[PhaseSpec] = []
        for step in self.steps:
            # Unnumbered: whoever shows the phases numbers them ("1. 0. x" came from numbering twice)
            label = {"skill": step.skills[0], "parallel": " + ".join(step.skills),
                     "review": f"review by {step.skills[0]}"}[step.kind]
            out.append(PhaseSpec(name=label[:80], skills=step.skills,
                                 parallel=step.kind == "parallel"))
        return tuple(out)


class Route(Frozen):
    """One routed phase: a squad's skills, in order or in parallel."""

    squad: str
    skills: tuple[str, ...] = Field(min_length=1)
    parallel: bool = False


class Routing(Frozen):
    """For one category: the preferred template and the squad routes."""

    template: str | None = None
    routes: tuple[Route, ...] = Field(min_length=1)


class Condition(Frozen):
    """A test on one field of an event's data."""

    field: str = Field(min_length=1)
    op: Operator
    value: JsonValue = None


class EventMapping(Frozen):
    """Which pipeline an event starts, on what condition, with what cooldown."""

    event: EventType
    pipeline: str
    priority: Priority = Priority.P2
    condition: Condition | None = None
    cooldown_s: int = Field(0, ge=0)


class Catalog(Frozen):
    """The merged catalog (package data plus the user's directory)."""

    skills: dict[str, SkillSpec]
    squads: dict[str, tuple[str, ...]]
    pipelines: dict[str, PipelineSpec]
    routing: dict[Category, Routing]
    category_rules: tuple[tuple[Category, tuple[str, ...]], ...]
    schedules: tuple[ScheduleEntry, ...]
    events: tuple[EventMapping, ...]
    fingerprint: str = ""  # a hash of everything above but file locations: same team, same hash

    def skill(self, slug: str) -> SkillSpec:
        """The skill with this slug, or NotFoundError."""
        try:
            return self.skills[slug]
        except KeyError:
            raise NotFoundError(f"unknown skill {slug!r}") from None

    def pipeline(self, name: str) -> PipelineSpec:
        """The template with this name (case-insensitive), or NotFoundError."""
        for key, spec in self.pipelines.items():
            if key.lower() == name.strip().lower():
                return spec
        known = ", ".join(sorted(self.pipelines))
        raise NotFoundError(f"unknown pipeline template {name!r} (known: {known})")
