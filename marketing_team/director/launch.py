"""Turn a goal text or a template name into a planned Goal (classify, plan, tasks), without Celery."""

from __future__ import annotations

from decimal import Decimal

from marketing_team.budget.policy import allowed_text
from marketing_team.director.classify import classify, classify_by_rules
from marketing_team.director.planning import pipeline_plan, propose_plan, rule_plan, with_foundation
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import BudgetDeferred, InputError, ProviderBillingError
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import Category, Goal, Plan, Priority, TaskRecord
from marketing_team.domain.text import terminal_safe
from marketing_team.domain.values import OFFLINE_PROVIDER, new_id
from marketing_team.llm.factory import model_for_tier
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Usage

# Rough token sizes for the estimate: instructions + context + upstream in, a deliverable out.
EST_INPUT_TOKENS = 6000
EST_OUTPUT_TOKENS = 2500
EST_REVIEW_INPUT = 4000
EST_REVIEW_OUTPUT = 600
MAX_TOPIC_CHARS = 500  # a topic names a subject; a brief belongs in `mtctl goal`


def build_tasks(goal_id: str, plan: Plan, priority: Priority, description: str,
                topic: str | None = None) -> list[TaskRecord]:
    """One pending task per skill slot of the plan, in order (topic: what every step is about)."""
    tasks = []
    # Its own line, so the topic survives whatever the goal's description holds around it.
    about = f"Topic: {topic}\n" if topic else ""
    for index, phase in enumerate(plan.phases):
        for slug in phase.skills:
            requirements = (f"Goal: {description}\n{about}Phase {index + 1} of {len(plan.phases)}: "
                            f"{phase.name}\nYour part: produce the {slug} deliverable for this goal"
                            + (", about the topic above." if topic else "."))
            tasks.append(TaskRecord(id=new_id(slug), goal_id=goal_id, phase_index=index,
                                    skill=slug, priority=priority, requirements=requirements))
    return tasks


def plan_goal(rt: Runtime, text: str, priority: Priority, category: Category | None = None,
              source: str = "cli", goal_id: str | None = None) -> tuple[Goal, str]:
    """A planned goal (not yet saved) and a note on how the plan was chosen.

    The Director's calls are the goal's first: metered under its id (so its cap counts them),
    stored under its id (a redelivered start with a reserved id does not pay twice) and added
    to its cost.
    """
    text = _checked_text(text)
    goal_id = goal_id or rt.goals.fresh_id()
    if rt.offline:  # no model: the rule plan is the plan, and says so
        return rule_planned(rt, text, priority, category, bool(rt.context.get().strip()),
                            "rule plan: no model is connected", source, goal_id)
    # Planning is paid work of this priority: refused (before paying) when the level does not
    # allow the priority, and on the model the level allows (critical: haiku).
    allowed, level = rt.budget.allows(priority)
    if not allowed:
        raise BudgetDeferred(f"{priority} work waits: the budget is at {level} "
                             f"({allowed_text(level)}); nothing was planned or paid")
    director_model = rt.model_for(rt.budget.effective_tier("opus"))
    classifier = rt.guarded(goal_id, "director", f"{goal_id}/classify")
    planner = rt.guarded(goal_id, "director", f"{goal_id}/plan")
    try:
        chosen = category or classify(text, rt.catalog, classifier, director_model)
        lessons = rt.learnings.for_category(chosen, limit=10)
        plan, note = propose_plan(text, chosen, rt.catalog, planner, director_model, lessons,
                                  has_context=bool(rt.context.get().strip()))
    except ProviderBillingError as exc:
        # The goal stops before it exists (its bound is in the ledger under its id): recorded
        # as agent_failure like a stopped running goal, whichever starter (CLI, desk, schedule).
        rt.raise_events([Event(type=EventType.AGENT_FAILURE, source="director", data={
            "goal_id": goal_id, "task_id": None, "step": "planning", "reason": str(exc)[:500]})])
        raise
    goal = Goal(id=goal_id, description=text, category=chosen, priority=priority, plan=plan,
                source=source, provider=rt.provider_name, catalog_fingerprint=rt.catalog.fingerprint,
                tasks=build_tasks(goal_id, plan, priority, text),
                cost_usd=classifier.cost_usd + planner.cost_usd)
    return goal, note


def _checked_text(text: str) -> str:
    # Control sequences never become part of a goal: its text reaches terminals and markdown.
    text = terminal_safe(text).strip()
    if not text:
        raise InputError("goal text is empty")
    if len(text) > 2000:
        raise InputError("goal text is longer than 2000 characters")
    return text


def rule_planned(rt: Runtime, text: str, priority: Priority, category: Category | None,
                 has_context: bool, note: str, source: str = "cli",
                 goal_id: str | None = None) -> tuple[Goal, str]:
    """A goal planned by the catalog's rules alone: no model call, nothing paid, nothing stored
    (dry runs, and every run of the offline provider)."""
    text = _checked_text(text)
    chosen = category or classify_by_rules(text, rt.catalog) or Category.STRATEGIC
    plan = with_foundation(rule_plan(chosen, rt.catalog), has_context)
    plan = plan.model_copy(update={"note": note})
    goal_id = goal_id or new_id("goal")
    goal = Goal(id=goal_id, description=text, category=chosen, priority=priority, plan=plan,
                source=source, provider=rt.provider_name, catalog_fingerprint=rt.catalog.fingerprint,
                tasks=build_tasks(goal_id, plan, priority, text))
    return goal, note


def check_topic(topic: str) -> str:
    """The topic as one line of single spaces; InputError naming the topic when empty or too long."""
    line = " ".join(terminal_safe(topic).split())
    if not line:
        raise InputError("pipeline topic is empty")
    if len(line) > MAX_TOPIC_CHARS:
        raise InputError(f"pipeline topic is longer than {MAX_TOPIC_CHARS} characters")
    return line


def plan_pipeline(rt: Runtime, name: str, priority: Priority | None = None,
                  source: str = "cli", description: str | None = None,
                  event: Event | None = None, goal_id: str | None = None, *,
                  topic: str | None = None) -> Goal:
    """A goal that runs every step of a named template (goal_id: one reserved for it already).

    topic: what this run is about ("our Slack integration"); it leads the goal's description and
    is a line of every step's instructions, so each skill writes about it.
    """
    about = None if topic is None else check_topic(topic)
    spec = rt.catalog.pipeline(name)
    plan = with_foundation(pipeline_plan(spec.name, rt.catalog),
                           bool(rt.context.get().strip()))
    prio = priority or spec.priority
    on = f" on {about}" if about else ""
    text = description or f"Run the {spec.name} pipeline{on}: {spec.description}".strip()
    goal_id = goal_id or rt.goals.fresh_id()
    return Goal(id=goal_id, description=text[:2000], category=spec.category, priority=prio,
                plan=plan, pipeline=spec.name, source=source, provider=rt.provider_name, event=event,
                catalog_fingerprint=rt.catalog.fingerprint,
                tasks=build_tasks(goal_id, plan, prio, text, about))


def estimate_cost(rt: Runtime, goal: Goal, provider: str | None = None) -> Decimal:
    """Expected spend for one pass of every task plus its review (no revisions), on the runtime's
    provider or the one named (the offline provider costs nothing: an estimate for Anthropic's
    models tells a person what connecting one would cost)."""
    provider = provider or rt.provider_name
    if provider == OFFLINE_PROVIDER:
        return Decimal("0")
    table = PriceTable.from_settings(rt.settings)
    total = Decimal("0")
    for task in goal.tasks:
        model = model_for_tier(rt.settings, rt.catalog.skill(task.skill).tier, provider)
        total += table.cost(model, Usage(input_tokens=EST_INPUT_TOKENS, output_tokens=EST_OUTPUT_TOKENS))
        total += table.cost(model_for_tier(rt.settings, "sonnet", provider),
                            Usage(input_tokens=EST_REVIEW_INPUT, output_tokens=EST_REVIEW_OUTPUT))
    return total
