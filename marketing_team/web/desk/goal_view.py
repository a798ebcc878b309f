"""What the desk shows of a goal: its rows in the list, its deliverables by revision, its live state."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Goal, GoalStatus, TaskRecord
from marketing_team.domain.review import SCORE_DIMENSIONS
from marketing_team.store.goals import docs_key
from marketing_team.web.desk.markdown import render, split_document

_REVISION = re.compile(r"\.rev(\d+)$")


@dataclass(frozen=True)
class ReviewView:
    """One review of one revision: verdict, reviewer, overall, the seven scores, findings as HTML."""

    verdict: str
    reviewer: str
    overall: float | None
    scores: list[tuple[str, float | None]]
    html: Markup


@dataclass(frozen=True)
class RevisionView:
    """One revision of a deliverable beside its review (None when not reviewed yet)."""

    number: int
    name: str
    html: Markup
    model: str
    review: ReviewView | None


@dataclass(frozen=True)
class TaskView:
    """A task with every revision of its deliverable, latest first."""

    task: TaskRecord
    revisions: list[RevisionView]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _review(text: str | None) -> ReviewView | None:
    if text is None:
        return None
    meta, body = split_document(text)
    scores = meta.get("scores")
    raw_scores: dict[str, Any] = scores if isinstance(scores, dict) else {}
    # The review's own heading repeats the deliverable's name: the page says it already.
    body = re.sub(r"\A\s*# [^\n]*\n", "", body)
    return ReviewView(verdict=str(meta.get("verdict", "")), reviewer=str(meta.get("reviewer", "")),
                      overall=_number(meta.get("overall")),
                      scores=[(name, _number(raw_scores.get(name))) for name in SCORE_DIMENSIONS],
                      html=render(body))


def task_views(rt: Runtime, goal: Goal) -> list[TaskView]:
    """Each task with its stored revisions (documents `NN-skill[.revK].md`) and their reviews."""
    documents = rt.documents.all(goal.id)
    views = []
    for task in goal.tasks:
        stem = f"{task.phase_index + 1:02d}-{task.skill}"
        found: list[RevisionView] = []
        for name, text in documents.items():
            if "/" in name or not name.startswith(stem) or not name.endswith(".md"):
                continue
            rest = name.removeprefix(stem).removesuffix(".md")
            match = _REVISION.fullmatch(rest)
            if rest and match is None:
                continue  # another skill whose name starts with this one's
            number = int(match.group(1)) if match else 0
            meta, body = split_document(text)
            review_name = f"reviews/{name.removesuffix('.md')}.review.md"
            found.append(RevisionView(number=number, name=name, html=render(body),
                                      model=str(meta.get("model", "")),
                                      review=_review(documents.get(review_name))))
        views.append(TaskView(task, sorted(found, key=lambda r: -r.number)))
    return views


def cost_by_skill(goal: Goal) -> list[tuple[str, Decimal]]:
    """What each skill cost in this goal, largest first."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for task in goal.tasks:
        totals[task.skill] += task.cost_usd
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def live_state(rt: Runtime, goal: Goal) -> dict[str, Any]:
    """The small JSON the goal page polls: status, phase, cost, each task, how many documents."""
    return {
        "goal_id": goal.id,
        "status": goal.status.value,
        "reason": goal.status_reason,
        "settled": goal.status.is_settled,
        "final": goal.status.is_final,  # nothing left to cancel
        "waiting": goal.status is GoalStatus.WAITING_HUMAN,
        "phase": goal.phase_number,
        "phases": len(goal.plan.phases),
        "cost_usd": f"{goal.cost_usd:.4f}",
        "documents": int(rt.redis.hlen(docs_key(goal.id))),
        "tasks": [{"id": t.id, "status": t.status.value, "revision": t.revision,
                   "cost_usd": f"{t.cost_usd:.4f}"} for t in goal.tasks],
    }
