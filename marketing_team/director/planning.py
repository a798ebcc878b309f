"""Director planning as pure functions: the rule plan, the LLM's proposal, and its validation."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, create_model

from marketing_team.catalog.specs import DIRECTOR_REVIEW, Catalog
from marketing_team.domain.errors import LLMError, MarketingTeamError
from marketing_team.domain.goal import Category, PhaseSpec, Plan
from marketing_team.domain.learning import Learning
from marketing_team.llm.protocol import LLM, Message, SystemBlock, parsed_as

MAX_PHASES = 8
MAX_TASKS = 20


class ProposedPhase(BaseModel):
    """A phase as the model proposes it."""

    name: str = Field(min_length=1, max_length=80)
    skills: list[str] = Field(min_length=1)
    parallel: bool = False


class PlanProposal(BaseModel):
    """The model's plan: phases of known skills and why."""

    phases: list[ProposedPhase] = Field(min_length=1)
    rationale: str = ""


@functools.lru_cache(maxsize=8)
@functools.lru_cache(maxsize=8)  # one class per catalog: its JSON schema is then built once
def plan_schema(skill_names: tuple[str, ...]) -> type[PlanProposal]:
    """PlanProposal whose phases may name only these skills (an enum in the JSON schema)."""
    known = Literal[skill_names]  # type: ignore[valid-type]
    phase = create_model("ProposedPhase", __base__=ProposedPhase,
                         skills=(list[known], Field(min_length=1)))  # type: ignore[valid-type]
    schema: type[PlanProposal] = create_model(
        "PlanProposal", __base__=PlanProposal,
        phases=(list[phase], Field(min_length=1)))  # type: ignore[valid-type]
    return schema


def rule_plan(category: Category, catalog: Catalog) -> Plan:
    """The category's template when it has one, else its routing table."""
    routing = catalog.routing.get(category)
    if routing is not None and routing.template and routing.template in catalog.pipelines:
        template = catalog.pipelines[routing.template]
        return Plan(phases=template.phases(), source="template", template=template.name,
                    rationale=f"Template {template.name!r} for {category} goals.")
    if routing is None:
        raise MarketingTeamError(f"the catalog has no routing for category {category}")
    phases = tuple(
        PhaseSpec(name=route.squad, skills=route.skills, parallel=route.parallel)
        for route in routing.routes
    )
    return Plan(phases=phases, source="routing", rationale=f"Routing table for {category} goals.")


def with_foundation(plan: Plan, has_context: bool) -> Plan:
    """Prepend the foundation skill when no product context exists yet (every skill reads it)."""
    first = plan.phases[0].skills
    if has_context or any(s == "product-marketing-context" for s in first):
        return plan
    phase = PhaseSpec(name="product-marketing-context", skills=("product-marketing-context",))
    return plan.model_copy(update={"phases": (phase, *plan.phases)})


def plan_problems(phases: Sequence[PhaseSpec], catalog: Catalog) -> list[str]:
    """Every reason the phases are not a valid plan (empty list when valid)."""
    problems: list[str] = []
    if not phases:
        return ["the plan has no phases"]
    if len(phases) > MAX_PHASES:
        problems.append(f"{len(phases)} phases exceed the limit of {MAX_PHASES}")
    total = sum(len(p.skills) for p in phases)
    if total > MAX_TASKS:
        problems.append(f"{total} tasks exceed the limit of {MAX_TASKS}")
    position: dict[str, list[tuple[int, int]]] = {}
    for index, phase in enumerate(phases):
        if not phase.skills:
            problems.append(f"phase {phase.name!r} is empty")
        if phase.parallel and len(set(phase.skills)) != len(phase.skills):
            problems.append(f"phase {phase.name!r} runs one skill twice in parallel")
        for order, slug in enumerate(phase.skills):
            if slug not in catalog.skills:
                problems.append(f"unknown skill {slug!r} in phase {phase.name!r}")
            # Parallel skills share one slot: neither may feed the other.
            position.setdefault(slug, []).append((index, 0 if phase.parallel else order))
    for producer, places in position.items():
        spec = catalog.skills.get(producer)
        if spec is None:
            continue
        for consumer in spec.downstream:
            if consumer in position and min(places) >= max(position[consumer]):
                problems.append(f"{producer} must run before its downstream skill {consumer}")
    return problems


def _plan_prompt(goal: str, category: Category, catalog: Catalog, suggestion: Plan,
                 learnings: Sequence[Learning]) -> str:
    skills = "\n".join(f"- {s.slug} ({s.squad}): {s.description}" for s in catalog.skills.values()
                       if s.slug != DIRECTOR_REVIEW)
    templates = "\n".join(
        f"- {p.name} [{p.category}]: " + " -> ".join("+".join(s.skills) for s in p.steps)
        for p in catalog.pipelines.values())
    lessons = "\n".join(f"- ({item.outcome}) {item.skill}: {item.lesson}" for item in learnings)
    rule = json.dumps({"phases": [p.model_dump(mode="json") for p in suggestion.phases],
                       "rationale": suggestion.rationale})
    return (
        f"<task>Plan the work for this {category} goal as ordered phases of known skills. "
        f"At most {MAX_PHASES} phases and {MAX_TASKS} tasks; upstream skills before the skills "
        "that consume them; mark a phase parallel when its skills are independent. Reply with "
        "JSON matching the schema.</task>\n"
        f"<goal>{goal}</goal>\n<skills>\n{skills}\n</skills>\n<templates>\n{templates}\n</templates>\n"
        f"<learnings>\n{lessons or '(none yet)'}\n</learnings>\n<rule_plan>{rule}</rule_plan>"
    )


def propose_plan(goal: str, category: Category, catalog: Catalog, llm: LLM, model: str,
                 learnings: Sequence[Learning] = (), has_context: bool = True) -> tuple[Plan, str]:
    """Ask the model for a plan; fall back to the rule plan when it is invalid. Returns (plan, note)."""
    suggestion = with_foundation(rule_plan(category, catalog), has_context)
    used = tuple(f"{item.skill}: {item.lesson}"[:200] for item in learnings)

    def fallback(note: str) -> tuple[Plan, str]:
        return suggestion.model_copy(update={"learnings_used": used, "note": note}), note

    schema = plan_schema(tuple(sorted(catalog.skills)))
    try:
        reply = llm.complete(
            [SystemBlock("You are the Marketing Director of an autonomous marketing team. "
                         "You plan work for specialist skills. Never ask questions.")],
            [Message("user", _plan_prompt(goal, category, catalog, suggestion, learnings))],
            model, 4096, schema=schema,
        )
        proposal = parsed_as(reply, schema)
        phases = tuple(PhaseSpec(name=p.name, skills=tuple(p.skills), parallel=p.parallel)
                       for p in proposal.phases)
    except LLMError as exc:
        if exc.transient or not exc.falls_back:
            raise  # a fault worth retrying, or money the provider's reply cannot be trusted on
        return fallback(f"rule plan: the model's plan was unusable ({str(exc)[:200]})")
    except (ValidationError, MarketingTeamError) as exc:
        return fallback(f"rule plan: the model's plan was unusable ({str(exc)[:200]})")
    problems = plan_problems(phases, catalog)
    if problems:
        return fallback("rule plan: the model's plan was rejected: " + "; ".join(problems[:3]))
    note = "model plan accepted"
    plan = Plan(phases=phases, source="llm", rationale=proposal.rationale, learnings_used=used,
                note=note)
    return with_foundation(plan, has_context), note


def pipeline_plan(name: str, catalog: Catalog) -> Plan:
    """A named template as a plan: every step runs."""
    spec = catalog.pipeline(name)
    return Plan(phases=spec.phases(), source="pipeline", template=spec.name,
                rationale=f"Pipeline {spec.name!r} as written.")


__all__ = ["PlanProposal", "pipeline_plan", "plan_problems", "propose_plan", "rule_plan"]
