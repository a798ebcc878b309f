"""Run one skill: gather inputs, build the prompt, call the model once per revision, store the draft."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from marketing_team.director.prompts import Upstream, skill_message, system_blocks
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord, TaskStatus, deliverable_name
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.observability import progress
from marketing_team.store import frontmatter
from marketing_team.store.goals import Staged
from marketing_team.store.replies import reply_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """What a skill task should do after claiming its task."""

    action: str  # "run": call the model; "review": draft exists; "done": nothing left to do
    task: TaskRecord


def claim(rt: Runtime, goal_id: str, task_id: str) -> Claim:
    """Mark the task in progress unless it already ran (a redelivered message must not pay twice)."""

    def change(goal: Goal) -> Claim:
        task = goal.task(task_id)
        if goal.status in (GoalStatus.FAILED, GoalStatus.CANCELLED, GoalStatus.COMPLETED):
            return Claim("done", task.model_copy())  # nothing more is spent on a settled goal
        if task.status in (TaskStatus.PENDING, TaskStatus.REVISION, TaskStatus.IN_PROGRESS,
                           TaskStatus.DEFERRED) and not rt.leases.claim(task.id, task.revision):
            return Claim("busy", task.model_copy())
        if task.status in (TaskStatus.PENDING, TaskStatus.REVISION):
            task.move(TaskStatus.IN_PROGRESS)
        elif task.status is TaskStatus.DEFERRED:
            task.move(TaskStatus.PENDING)
            task.move(TaskStatus.IN_PROGRESS)
        elif task.status is TaskStatus.COMPLETED:
            return Claim("review", task.model_copy())
        elif task.status is not TaskStatus.IN_PROGRESS:  # approved, failed, blocked, cancelled
            return Claim("done", task.model_copy())
        return Claim("run", task.model_copy())

    _, start = rt.goals.update(goal_id, change)
    return start


def release(rt: Runtime, task: TaskRecord) -> None:
    """Give the lease back once this run ended (done, failed, or handed to a retry)."""
    rt.leases.release(task.id, task.revision)


def upstream_for(rt: Runtime, goal: Goal, task: TaskRecord) -> list[Upstream]:
    """Deliverables of the previous phase and of earlier producers that feed this skill."""
    found: list[Upstream] = []
    for other in goal.tasks:
        if other.phase_index >= task.phase_index:
            continue
        feeds = task.skill in rt.catalog.skills.get(other.skill, rt.catalog.skill(task.skill)).downstream
        direct = other.phase_index == task.phase_index - 1
        if not (feeds or direct or task.skill == "director-review" or other.skill == "product-marketing-context"):
            continue
        if other.output is None:
            found.append(Upstream(other.skill, f"{other.phase_index + 1:02d}-{other.skill}.md", None))
            continue
        found.append(Upstream(other.skill, other.output, deliverable_body(rt, goal.id, other.output)))
    return found


def deliverable_body(rt: Runtime, goal_id: str, name: str) -> str | None:
    """A stored deliverable's text without its front matter, or None when it is missing."""
    text = rt.documents.get(goal_id, name)
    return None if text is None else frontmatter.parse(text, name)[1]


def previous_draft(rt: Runtime, goal_id: str, task: TaskRecord) -> str | None:
    """The last draft's body when revising (not for a fresh attempt)."""
    if task.revision == 0 or task.output is None or task.feedback is None:
        return None
    return deliverable_body(rt, goal_id, task.output)


def run_skill(rt: Runtime, goal_id: str, task_id: str, model: str) -> TaskRecord:
    """Produce the task's deliverable for its current revision and record it as completed."""
    goal = rt.goals.load(goal_id)
    task = goal.task(task_id)
    spec = rt.catalog.skill(task.skill)
    message = skill_message(
        spec, task.requirements, upstream_for(rt, goal, task),
        rt.learnings.for_skill(task.skill, limit=10), rt.settings.context_tokens,
        feedback=task.feedback, previous_draft=previous_draft(rt, goal_id, task),
        event_data=goal.event.data if goal.event is not None else None,
    )
    key = reply_key(goal_id, task_id, task.revision, "skill")
    llm = rt.guarded(goal_id, task.skill, key)
    reply = llm.complete(system_blocks(spec, rt.context.get()), [message], model,
                         rt.settings.max_output_tokens)
    name = deliverable_name(task)
    meta = {"task_id": task.id, "goal_id": goal_id, "skill": task.skill, "model": reply.model,
            "tokens_in": reply.usage.input_tokens, "tokens_out": reply.usage.output_tokens,
            "cache_read_tokens": reply.usage.cache_read_tokens, "cost_usd": str(reply.cost_usd),
            "revision": task.revision, "truncated": reply.truncated}
    # Stored before the state says so: a crash in between re-records the same document.
    rt.documents.put(goal_id, name, frontmatter.dump(meta, reply.text.rstrip() + "\n"))

    def record(goal: Goal) -> TaskRecord:
        current = goal.task(task_id)
        if key not in current.billed:
            current.billed.append(key)
            current.cost_usd += reply.cost_usd
            goal.cost_usd += reply.cost_usd
            current.tokens_in += reply.usage.input_tokens
            current.tokens_out += reply.usage.output_tokens
        current.model = reply.model
        current.output = name
        if current.status is TaskStatus.IN_PROGRESS:
            current.move(TaskStatus.COMPLETED)
        return current.model_copy()

    _, done = rt.goals.update(goal_id, record)
    log.info("skill finished", extra={"event": "skill_finished", "goal_id": goal_id, "task_id": task_id,
                                      "skill": task.skill, "model": reply.model, "fresh_call": llm.fresh,
                                      "cost_usd": str(reply.cost_usd)})
    progress.publish(rt.redis, goal_id, "task_completed", task_id=task_id, skill=task.skill,
                     revision=task.revision, cost_usd=str(reply.cost_usd), document=name)
    return done


def fail_task(rt: Runtime, goal_id: str, task_id: str, reason: str) -> TaskRecord:
    """Mark a task failed with its reason (the canvas goes on; the Director decides what follows)."""

    def change(goal: Goal) -> bool:
        task = goal.task(task_id)
        if task.status.is_terminal:
            return False  # failed (or finished) already: a redelivery learns nothing new
        task.move(TaskStatus.FAILED)
        task.error = reason[:500]
        goal.consecutive_failures += 1
        return True

    def learned(goal: Goal, failed: bool) -> list[Staged]:
        if not failed:
            return []
        return [rt.learnings.staged(Learning(
            skill=goal.task(task_id).skill, goal_id=goal_id, category=goal.category,
            outcome=Outcome.FAILURE, lesson=f"Failed: {reason[:300]}", tags=("failure",),
            confidence=0.6))]

    goal, _ = rt.goals.update(goal_id, change, learned)
    task = goal.task(task_id)
    progress.publish(rt.redis, goal_id, "task_failed", task_id=task_id, skill=task.skill, reason=reason[:200])
    return task

