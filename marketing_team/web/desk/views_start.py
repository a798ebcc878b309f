"""Start a goal: text, priority and an optional pipeline; the dry run's plan and estimate first,
then the start, planned and published as `mtctl goal` / `mtctl pipeline` do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketing_team.director.launch import (
    estimate_cost,
    plan_goal,
    plan_pipeline,
    rule_planned,
)
from marketing_team.domain.goal import Goal, Priority
from marketing_team.orchestration.dispatch import publish_goal
from marketing_team.web.desk.core import PREFIX, Desk
from marketing_team.web.desk.http import DeskError, Reply, Request, redirect
from marketing_team.web.desk.session import Session

MAX_TEXT = 2000


@dataclass(frozen=True)
class StartForm:
    """What the person asked for, checked: text (or a pipeline's topic), priority, pipeline."""

    text: str
    priority: Priority
    pipeline: str


def _form(desk: Desk, request: Request) -> StartForm:
    text = request.form.get("text", "").strip()
    pipeline = request.form.get("pipeline", "").strip()
    try:
        priority = Priority(request.form.get("priority", "P1"))
    except ValueError:
        raise DeskError(400, "priority must be P0, P1, P2 or P3", "priority") from None
    if len(text) > MAX_TEXT:
        raise DeskError(400, f"text is longer than {MAX_TEXT} characters", "text")
    if pipeline and pipeline not in desk.runtime.catalog.pipelines:
        raise DeskError(400, "pipeline is not one of the catalog's pipelines", "pipeline")
    if not text and not pipeline:
        raise DeskError(400, "text is empty: say what the goal is (or choose a pipeline)", "text")
    return StartForm(text, priority, pipeline)


def _page(desk: Desk, request: Request, session: Session, form: StartForm | None = None,
          **context: Any) -> Reply:
    return desk.page("start.html", request, session, form=form,
                     pipelines=sorted(desk.runtime.catalog.pipelines),
                     priorities=[p.value for p in Priority], **context)


def start_form(desk: Desk, request: Request, session: Session) -> Reply:
    """The empty form."""
    return _page(desk, request, session)


def _dry_run(desk: Desk, form: StartForm) -> tuple[Goal, str]:
    rt = desk.runtime
    if form.pipeline:
        goal = plan_pipeline(rt, form.pipeline, form.priority, source="desk",
                             topic=form.text or None)
        return goal, "the pipeline's steps, every one of them"
    model = "" if rt.offline else f"; the start asks {rt.model_for('opus')} for its plan"
    return rule_planned(rt, form.text, form.priority, None, bool(rt.context.get().strip()),
                        f"rule plan (a dry run calls no model{model})", source="desk")


def start_plan(desk: Desk, request: Request, session: Session) -> Reply:
    """`--dry-run`: the plan and its cost estimate, nothing written; a button starts it."""
    form = _form(desk, request)
    goal, note = _dry_run(desk, form)
    rt = desk.runtime
    anthropic = estimate_cost(rt, goal, "anthropic") if rt.offline else None
    return _page(desk, request, session, form, plan=goal, note=note,
                 estimate=estimate_cost(rt, goal), anthropic_estimate=anthropic,
                 provider=rt.provider_name)


def start_goal(desk: Desk, request: Request, session: Session) -> Reply:
    """Plan it as the CLI does (the model's plan, or the pipeline's steps), save it and publish it."""
    form = _form(desk, request)
    rt = desk.runtime
    if form.pipeline:
        goal = plan_pipeline(rt, form.pipeline, form.priority, source="desk",
                             topic=form.text or None)
    else:
        goal, _ = plan_goal(rt, form.text, form.priority, source="desk")
    started = publish_goal(desk.celery, rt, goal)
    desk.acted(session, "start", started.id, goal_id=started.id, priority=form.priority.value,
               pipeline=form.pipeline or None)
    return redirect(f"{PREFIX}/goals/{started.id}?done=started")
