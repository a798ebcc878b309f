"""Run one skill: gather inputs, build the prompt, call the model once per revision, store the draft."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from marketing_team.director import prompt_inputs
from marketing_team.director.decision import Applied, Decision, Reviewed
from marketing_team.director.phases import ACTIVE
from marketing_team.director.prompts import skill_message, system_blocks
from marketing_team.director.runtime import Runtime
from marketing_team.director.structural_review import structural_review
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.goal import Goal, TaskRecord, TaskStatus, deliverable_name
from marketing_team.observability import progress
from marketing_team.store import frontmatter
from marketing_team.store.documents import DocumentStore
from marketing_team.store.goals import Staged
from marketing_team.store.leases import Lease
from marketing_team.store.replies import reply_key

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Claim:
    """What a skill or review message should do once it looked at its task.

    run: do the work (the lease is held); review: the draft exists, the chained review takes it
    (or, for a structural-only step, the copy that found it reviews it);
    done: the task is finished (approved, failed, blocked); busy: another live copy holds the
    lease; stale: the message belongs to an earlier run; quiet: the goal is paused or settled.
    """

    action: Literal["run", "review", "done", "busy", "stale", "quiet"]
    task: TaskRecord
    lease: Lease | None = None
    goal: Goal | None = None  # the goal as the claim left it (the run starts from it, no new read)
    # What the run reads, fetched in the lease's round trip: a draft's prompt inputs, or the
    # stored text a review reads (Stored(None) when it is missing).
    inputs: prompt_inputs.PromptInputs | None = None
    draft: Stored | None = None


@dataclass(frozen=True)
class Stored:
    """A document as read from the store (None: not there)."""

    text: str | None


_RUNNABLE = (TaskStatus.PENDING, TaskStatus.REVISION, TaskStatus.DEFERRED, TaskStatus.IN_PROGRESS)


def _look(goal: Goal, task: TaskRecord, run: int) -> Claim | None:
    """The claim's answer without a lease, or None when the task is the caller's to run."""
    if goal.run != run:
        return Claim("stale", task)
    if goal.status not in ACTIVE:
        return Claim("quiet", task)  # paused, waiting for a person, or settled: end quietly
    if task.status is TaskStatus.COMPLETED:
        return Claim("review", task)
    if task.status not in _RUNNABLE:
        return Claim("done", task)
    return None


def _decoded(decode: Callable[[], _T]) -> _T | None:
    """What a claim read, decoded; None when it cannot be (a document that does not parse).

    The lease is held by then and only the step's body gives it back: the run reads again and
    fails the step with the reason, as it did before its reads rode with the claim.
    """
    try:
        return decode()
    except (MarketingTeamError, ValueError):
        return None


def claim(rt: Runtime, goal_id: str, task_id: str, run: int, read: Goal | None = None) -> Claim:
    """Take the right to draft the task (a lease, kept alive while the call runs) and mark it running.

    A redelivered or duplicated message finds the lease held by a live copy and is told `busy`;
    a copy of an earlier run is told `stale`; neither pays for a call. `read`: the goal as the
    caller just read it (the gate did), to save reading it again.
    """
    goal = read if read is not None else rt.goals.load(goal_id)
    task = goal.task(task_id)
    early = _look(goal, task, run)
    if early is not None:
        return early
    # The prompt's inputs ride with the lease (a busy copy read them for nothing: rare).
    want = prompt_inputs.wanted(rt, goal, task)
    lease, answers = rt.leases.claim_with(lambda pipe: prompt_inputs.queue(want, pipe), "skill",
                                          goal_id, task_id, task.revision, run)
    if lease is None:
        return Claim("busy", task)
    inputs = _decoded(lambda: prompt_inputs.decode(want, answers))

    def change(goal: Goal) -> Claim:
        current = goal.task(task_id)
        found = _look(goal, current, run)
        if found is not None:
            return found
        if current.revision != lease.revision:
            return Claim("done", current.model_copy())  # revised meanwhile: its own message runs it
        if current.status is TaskStatus.DEFERRED:
            current.move(TaskStatus.PENDING)
        if current.status is not TaskStatus.IN_PROGRESS:
            current.move(TaskStatus.IN_PROGRESS)
        return Claim("run", current.model_copy(), lease, inputs=inputs)

    def effects(goal: Goal, claimed: Claim) -> list[Staged]:
        if claimed.lease is None:
            return []
        # Followers show the step running at once, not at their next look.
        return [progress.Notice(goal_id, "task_started", task_id=task_id, skill=task.skill,
                                revision=claimed.task.revision)]

    changed, claimed = rt.goals.update(goal_id, change, effects, read=goal)
    if claimed.lease is None:
        rt.leases.release(lease)
        return claimed
    return replace(claimed, goal=changed)


def claim_review(rt: Runtime, goal_id: str, task_id: str, run: int, read: Goal | None = None) -> Claim:
    """Take the right to review the task's current draft (one lease per revision)."""
    goal = read if read is not None else rt.goals.load(goal_id)
    task = goal.task(task_id)
    early = _look(goal, task, run)
    if early is None or early.action != "review":
        return early or Claim("done", task)  # nothing drafted for this revision: nothing to review
    # The draft under review rides with the lease.
    name = task.output
    lease, answers = rt.leases.claim_with(
        None if name is None else lambda pipe: DocumentStore.queue_get_many(pipe, goal_id, [name]),
        "review", goal_id, task_id, task.revision, run)
    if lease is None:
        return Claim("busy", task)
    draft = None if name is None else _decoded(
        lambda: Stored(DocumentStore.decode_many([name], answers[0])[name]))
    return Claim("run", task, lease, goal, draft=draft)


def release(rt: Runtime, claimed: Claim) -> None:
    """Give the lease back once this step ended (done, failed, or handed to a retry)."""
    if claimed.lease is not None:
        rt.leases.release(claimed.lease)


def deliverable_body(rt: Runtime, goal_id: str, name: str) -> str | None:
    """A stored deliverable's text without its front matter, or None when it is missing."""
    return prompt_inputs.body(name, rt.documents.get(goal_id, name))


@dataclass(frozen=True)
class Drafted:
    """A skill run's end: the task as its record made it.

    reviewed: the structural review's outcome, when the run reviewed its own draft and its record
    applied the decision (None otherwise, and for a late copy the step had moved on without).
    """

    task: TaskRecord
    reviewed: Reviewed | None = None


def run_skill(rt: Runtime, goal_id: str, task_id: str, model: str,
              read: Goal | None = None, inputs: prompt_inputs.PromptInputs | None = None,
              review_own: bool = False) -> Drafted:
    """Produce the task's deliverable for its current revision and record it as completed.

    read: the goal as its claim left it (saves a read; a stale copy only costs the record a retry);
    inputs: the prompt inputs its claim read (else they are read here); review_own: the step's
    review is structural only, so its verdict is applied in the draft's own record (one write).
    """
    goal = read if read is not None else rt.goals.load(goal_id)
    task = goal.task(task_id)
    spec = rt.catalog.skill(task.skill)
    inputs = inputs if inputs is not None else prompt_inputs.read(rt, goal, task)
    message = skill_message(
        spec, task.requirements, inputs.upstream, inputs.learnings, rt.settings.context_tokens,
        feedback=task.feedback, previous_draft=inputs.previous_draft,
        event_data=goal.event.data if goal.event is not None else None,
    )
    key = reply_key(goal_id, task_id, task.revision, "skill")
    llm = rt.guarded(goal_id, task.skill, key, goal.priority)
    reply = llm.complete(system_blocks(spec, inputs.context), [message], model,
                         rt.settings.max_output_tokens)
    name = deliverable_name(task)
    meta = {"task_id": task.id, "goal_id": goal_id, "skill": task.skill, "model": reply.model,
            "tokens_in": reply.usage.input_tokens, "tokens_out": reply.usage.output_tokens,
            "cache_read_tokens": reply.usage.cache_read_tokens, "cost_usd": str(reply.cost_usd),
            "revision": task.revision, "truncated": reply.truncated}
    # Written in the transaction that records the step as completed: never one without the other.
    text = frontmatter.dump(meta, reply.text.rstrip() + "\n")
    document = rt.documents.staged(goal_id, name, text)
    # A structural-only review is decided here, and the record applies it: one write for both.
    decision = None
    if review_own:
        decision = Decision(rt, task, name, structural_review(prompt_inputs.body(name, text) or "", spec))

    def record(goal: Goal) -> tuple[TaskRecord, Applied]:
        current = goal.task(task_id)
        if current.revision == task.revision:
            # What the meter settled, reply by reply (as the ledger rounds it): counted also
            # when the step ended meanwhile (a goal cancelled while the call ran), since it was
            # paid, and for every copy that paid (a step taken over from a frozen worker).
            if key not in current.billed:  # the deliverable's tokens, once per call
                current.billed.append(key)
                current.tokens_in += reply.usage.input_tokens
                current.tokens_out += reply.usage.output_tokens
            goal.charge(task_id, llm.charges)
        if current.revision != task.revision or current.status is not TaskStatus.IN_PROGRESS:
            return current.model_copy(), None  # a late copy: the step moved on without it
        current.model = reply.model
        current.output = name
        current.move(TaskStatus.COMPLETED)
        drafted = current.model_copy()
        return drafted, decision.change(goal) if decision is not None else None

    completed = progress.Notice(goal_id, "task_completed", task_id=task_id, skill=task.skill,
                                revision=task.revision, cost_usd=str(reply.cost_usd), document=name)

    def landed(done: TaskRecord) -> bool:
        return done.output == name and done.status is TaskStatus.COMPLETED

    def effects(goal: Goal, recorded: tuple[TaskRecord, Applied]) -> list[Staged]:
        done, applied = recorded
        if not landed(done):
            return []
        return [document, completed, *(decision.effects(goal, applied) if decision is not None else [])]

    after, (done, applied) = rt.goals.update(goal_id, record, effects, read=goal)
    log.info("skill finished", extra={"event": "skill_finished", "goal_id": goal_id, "task_id": task_id,
                                      "skill": task.skill, "model": reply.model, "fresh_call": llm.fresh,
                                      "cost_usd": str(reply.cost_usd)})
    if not landed(done):
        progress.send(rt.redis, completed)  # a late copy: announced all the same, as before
    reviewed = decision.outcome(after, applied) if decision is not None and applied is not None else None
    return Drafted(done, reviewed)
