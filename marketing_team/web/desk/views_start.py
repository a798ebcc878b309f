"""Start a goal: text, priority and an optional pipeline; the dry run's plan and estimate first,
then the start, planned and published as `mtctl goal` / `mtctl pipeline` do.

The dry run's Start button carries a one-time token (in Redis for START_TOKEN_S) bound to the
form it planned: the first press with that same form claims it atomically and starts the goal
(the plan shown is the plan started); a second press (a double click, a resubmit after going
back) is sent to the goal the first one started instead of starting and billing another.
"""

from __future__ import annotations

import hashlib
import secrets
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
START_TOKEN_S = 3600
_STARTS = "mt:desk:start:"
_CLAIMING = "starting"
# Claims an issued, unclaimed token (value "plan:<digest of its form>", ARGV[2]): "" for the
# claimer; otherwise what it held: "starting" while another request starts it, the goal id once
# started, another form's "plan:…" when the form changed since the dry run, nil when unknown.
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
  return ''
end
return held
"""


@dataclass(frozen=True)
class StartForm:
    """What the person asked for, checked: text (or a pipeline's topic), priority, pipeline."""

    text: str
    priority: Priority
    pipeline: str

    @property
    def planned(self) -> str:
        """The value a start token issued for this form holds until it is claimed."""
        said = "\x00".join((self.text, self.priority.value, self.pipeline)).encode()
        return "plan:" + hashlib.sha256(said).hexdigest()[:32]


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
    token = secrets.token_urlsafe(16)
    rt.redis.set(_STARTS + token, form.planned, ex=START_TOKEN_S)
    return _page(desk, request, session, form, plan=goal, note=note,
                 estimate=estimate_cost(rt, goal), anthropic_estimate=anthropic,
                 provider=rt.provider_name, start_token=token)


def _claim(desk: Desk, token: str, form: StartForm) -> str | None:
    """None when this request may start the goal; the goal's id when one was started with it."""
    well_formed = token.isascii() and 0 < len(token) <= 64
    held = (desk.runtime.redis.register_script(_CLAIM)(keys=[_STARTS + token],
                                                       args=[_CLAIMING, form.planned])
            if well_formed else None)
    if held is None:
        raise DeskError(400, "this start button has expired or was not issued: show the plan "
                             "again and start from there", "start")
    text = held.decode() if isinstance(held, bytes) else str(held)
    if text == _CLAIMING:
        raise DeskError(409, "this plan is being started already: see the goals list")
    if text.startswith("plan:"):
        raise DeskError(400, "the form changed since its plan was shown: show the plan again "
                             "and start from there", "start")
    return text or None


def start_goal(desk: Desk, request: Request, session: Session) -> Reply:
    """Plan it as the CLI does (the model's plan, or the pipeline's steps), save it and publish it."""
    form = _form(desk, request)
    token = request.form.get("start", "")
    already = _claim(desk, token, form)
    if already is not None:
        return redirect(f"{PREFIX}/goals/{already}?done=started")
    rt, key = desk.runtime, _STARTS + token
    try:
        if form.pipeline:
            goal = plan_pipeline(rt, form.pipeline, form.priority, source="desk",
                                 topic=form.text or None)
        else:
            goal, _ = plan_goal(rt, form.text, form.priority, source="desk")
        started = publish_goal(desk.celery, rt, goal)
    except BaseException:
        rt.redis.set(key, form.planned, keepttl=True)  # nothing started: press it again
        raise
    rt.redis.set(key, started.id, keepttl=True)
    desk.acted(session, "start", started.id, goal_id=started.id, priority=form.priority.value,
               pipeline=form.pipeline or None)
    return redirect(f"{PREFIX}/goals/{started.id}?done=started")
