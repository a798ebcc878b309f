"""What a skill's prompt is built from, read in one round trip: the deliverables upstream of it,
its previous draft when revising, its learnings and the product context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from marketing_team.director.prompts import Upstream
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, TaskRecord
from marketing_team.domain.learning import Learning
from marketing_team.store import frontmatter
from marketing_team.store.context import ContextStore
from marketing_team.store.documents import DocumentStore
from marketing_team.store.learnings import LearningStore

LEARNINGS_SHOWN = 10


@dataclass(frozen=True)
class PromptInputs:
    """Everything a skill's prompt reads from the store."""

    upstream: list[Upstream]
    previous_draft: str | None
    learnings: list[Learning]
    context: str


def feeding(rt: Runtime, goal: Goal, task: TaskRecord) -> list[TaskRecord]:
    """Tasks of earlier phases whose deliverables feed this one: the previous phase, declared
    producers, and the product context (the director's review reads them all)."""
    found: list[TaskRecord] = []
    for other in goal.tasks:
        if other.phase_index >= task.phase_index:
            continue
        feeds = task.skill in rt.catalog.skills.get(other.skill, rt.catalog.skill(task.skill)).downstream
        direct = other.phase_index == task.phase_index - 1
        if feeds or direct or task.skill == "director-review" or other.skill == "product-marketing-context":
            found.append(other)
    return found


def revising_from(task: TaskRecord) -> str | None:
    """The deliverable a revision starts from (not a fresh attempt, which starts over)."""
    if task.revision == 0 or task.output is None or task.feedback is None:
        return None
    return task.output


def body(name: str, text: str | None) -> str | None:
    """A stored deliverable's text without its front matter."""
    return None if text is None else frontmatter.parse(text, name)[1]


@dataclass(frozen=True)
class Wanted:
    """What a task's prompt needs from the store, as keys and names (see queue and decode)."""

    goal_id: str
    skill: str
    offline: bool
    upstream: list[TaskRecord]
    draft: str | None
    names: list[str]


def wanted(rt: Runtime, goal: Goal, task: TaskRecord) -> Wanted:
    """The reads the task's prompt needs."""
    upstream = feeding(rt, goal, task)
    draft = revising_from(task)
    names = [t.output for t in upstream if t.output is not None] + ([draft] if draft else [])
    return Wanted(goal.id, task.skill, rt.offline, upstream, draft, names)


def queue(want: Wanted, pipe: redis.client.Pipeline) -> None:
    """Queue the reads on a caller's pipeline (decode reads their answers, in this order)."""
    LearningStore.queue_for_skill(pipe, want.skill, LEARNINGS_SHOWN, offline=want.offline)
    ContextStore.queue_get(pipe)
    if want.names:
        DocumentStore.queue_get_many(pipe, want.goal_id, want.names)


def decode(want: Wanted, answers: list[Any]) -> PromptInputs:
    """The prompt inputs from the answers of queue's reads."""
    texts = DocumentStore.decode_many(want.names, answers[2]) if want.names else {}
    shown = [Upstream(t.skill, f"{t.phase_index + 1:02d}-{t.skill}.md", None) if t.output is None
             else Upstream(t.skill, t.output, body(t.output, texts[t.output])) for t in want.upstream]
    learnings = LearningStore.decode(LearningStore.skill_key(want.skill, want.offline), answers[0])
    return PromptInputs(shown, body(want.draft, texts[want.draft]) if want.draft else None,
                        learnings, ContextStore.decode(answers[1]))


def read(rt: Runtime, goal: Goal, task: TaskRecord) -> PromptInputs:
    """The task's prompt inputs, in one round trip of their own."""
    want = wanted(rt, goal, task)
    with rt.redis.pipeline(transaction=False) as pipe:
        queue(want, pipe)
        return decode(want, pipe.execute())
