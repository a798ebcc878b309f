"""What a skill's prompt is built from, read in one round trip: the deliverables upstream of it,
its previous draft when revising, its learnings and the product context."""

from __future__ import annotations

from dataclasses import dataclass

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


def read(rt: Runtime, goal: Goal, task: TaskRecord) -> PromptInputs:
    """The task's prompt inputs, in one round trip."""
    upstream = feeding(rt, goal, task)
    draft = revising_from(task)
    names = [t.output for t in upstream if t.output is not None] + ([draft] if draft else [])
    with rt.redis.pipeline(transaction=False) as pipe:
        key = LearningStore.queue_for_skill(pipe, task.skill, LEARNINGS_SHOWN, offline=rt.offline)
        ContextStore.queue_get(pipe)
        if names:
            DocumentStore.queue_get_many(pipe, goal.id, names)
        answers = pipe.execute()
    texts = DocumentStore.decode_many(names, answers[2]) if names else {}
    shown = [Upstream(t.skill, f"{t.phase_index + 1:02d}-{t.skill}.md", None) if t.output is None
             else Upstream(t.skill, t.output, body(t.output, texts[t.output])) for t in upstream]
    return PromptInputs(shown, body(draft, texts[draft]) if draft else None,
                        LearningStore.decode(key, answers[0]), ContextStore.decode(answers[1]))
