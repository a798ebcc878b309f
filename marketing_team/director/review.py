"""The Director's review: structural checks first, then a scored model review of what passes them."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field, create_model

from marketing_team.catalog.specs import SkillSpec
from marketing_team.director.prompts import review_messages
from marketing_team.director.structural_review import structural_review
from marketing_team.domain.errors import LLMError
from marketing_team.domain.review import SCORE_DIMENSIONS, Finding, Review, Severity, Verdict
from marketing_team.domain.values import OFFLINE_PROVIDER
from marketing_team.llm.protocol import LLM, SystemBlock, parsed_as
from marketing_team.store import frontmatter

log = logging.getLogger(__name__)
APPROVE_AT = 7.0
REJECT_BELOW = 4.0

SQUAD_WEIGHTS: dict[str, dict[str, float]] = {
    "strategy": {"completeness": 1.2, "clarity": 1.0, "actionability": 1.2, "brand_alignment": 1.0,
                 "data_driven": 1.3, "technical_accuracy": 0.8, "creativity": 1.0},
    "creative": {"completeness": 1.0, "clarity": 1.3, "actionability": 0.9, "brand_alignment": 1.4,
                 "data_driven": 0.7, "technical_accuracy": 0.8, "creativity": 1.4},
    "convert": {"completeness": 1.0, "clarity": 1.1, "actionability": 1.4, "brand_alignment": 0.9,
                "data_driven": 1.3, "technical_accuracy": 1.0, "creativity": 0.8},
    "activate": {"completeness": 1.1, "clarity": 1.2, "actionability": 1.3, "brand_alignment": 1.1,
                 "data_driven": 1.0, "technical_accuracy": 0.9, "creativity": 0.9},
    "measure": {"completeness": 1.2, "clarity": 1.0, "actionability": 1.1, "brand_alignment": 0.6,
                "data_driven": 1.4, "technical_accuracy": 1.5, "creativity": 0.5},
}
EVEN = dict.fromkeys(SCORE_DIMENSIONS, 1.0)


class ReviewFinding(BaseModel):
    """A finding as the model reports it."""

    severity: Severity
    description: str
    section: str | None = None


# Every dimension required, each a number from 0 to 10: a reply that leaves one out fails
# validation (and is re-prompted) instead of counting it as 0.
ReviewScores = create_model(  # type: ignore[call-overload]
    "ReviewScores", __config__=ConfigDict(extra="forbid"),
    **{name: (float, Field(ge=0, le=10)) for name in SCORE_DIMENSIONS})


class ReviewReply(BaseModel):
    """The model's structured review."""

    verdict: Verdict
    findings: list[ReviewFinding] = Field(default_factory=list)
    revision_requests: list[str] = Field(default_factory=list)
    scores: ReviewScores  # type: ignore[valid-type]
    summary: str = ""

    def score_map(self) -> dict[str, float]:
        """The seven scores by dimension."""
        scores: dict[str, float] = self.scores.model_dump()
        return scores


def weights_for(squad: str) -> dict[str, float]:
    """Per-squad weights of the 7 quality dimensions."""
    return SQUAD_WEIGHTS.get(squad, EVEN)


def overall_score(scores: dict[str, float], weights: dict[str, float]) -> float:
    """Weighted mean of the dimensions the reviewer scored (0–10)."""
    used = [d for d in SCORE_DIMENSIONS if d in scores]
    if not used:
        return 0.0
    total = sum(weights.get(d, 1.0) for d in used)
    return round(sum(max(0.0, min(10.0, scores[d])) * weights.get(d, 1.0) for d in used) / total, 2)


def verdict_for(overall: float, model_verdict: Verdict) -> Verdict:
    """Scores set a floor: < 4 rejects, < 7 revises; a model REVISE/REJECT above them stands."""
    if overall < REJECT_BELOW:
        return Verdict.REJECT
    if overall < APPROVE_AT:
        return Verdict.REVISE if model_verdict is Verdict.APPROVE else model_verdict
    return model_verdict


def model_review(llm: LLM, model: str, skill: SkillSpec, requirements: str, text: str) -> Review:
    """Ask the model for a scored review and apply the score thresholds."""
    weights = weights_for(skill.squad)
    reply = llm.complete([SystemBlock("You are the Marketing Director. You review deliverables "
                                      "strictly and fairly against the brief. Reply with JSON only.")],
                         review_messages(skill, requirements, text, weights), model, 2048,
                         schema=ReviewReply)
    parsed = parsed_as(reply, ReviewReply)
    overall = overall_score(parsed.score_map(), weights)
    findings = tuple(Finding(severity=f.severity, description=f.description, section=f.section)
                     for f in parsed.findings)
    review = Review(verdict=verdict_for(overall, parsed.verdict), findings=findings,
                    revision_requests=tuple(parsed.revision_requests), scores=parsed.score_map(),
                    overall=overall, note=parsed.summary,
                    # the offline provider's scores are a rule, not a judgement: say so wherever shown
                    reviewer="offline" if llm.name == OFFLINE_PROVIDER else "llm")
    return review


def review_text(text: str, skill: SkillSpec, llm: LLM | None, model: str,
                requirements: str) -> Review:
    """Structural checks first; the model reviews only what passes them (llm None: structural only).

    What the model's attempts cost is the caller's to read from its GuardedLLM (failed ones too).
    """
    structural = structural_review(text, skill)
    if structural.verdict is not Verdict.APPROVE or llm is None:
        return structural
    try:
        return model_review(llm, model, skill, requirements, text)
    except LLMError as exc:
        if exc.transient or not exc.falls_back:
            raise  # worth retrying the whole review task, or a provider not to be trusted
        # Malformed or refused review: the structural verdict stands, with the reason on record.
        log.warning("model review unusable; structural review only",
                    extra={"event": "review_fallback", "skill": skill.slug, "reason": str(exc)[:200]})
        note = f"structural review only: the model review was unusable ({str(exc)[:160]})"
        return structural.model_copy(update={"note": note})


def review_document(deliverable: str, review: Review) -> tuple[str, str]:
    """The review's document (name, text), kept beside the deliverable under reviews/."""
    stem = deliverable.removesuffix(".md")
    meta = {"deliverable": deliverable, "verdict": review.verdict.value, "reviewer": review.reviewer,
            "overall": review.overall, "scores": review.scores}
    body = [f"# Review of {deliverable}: {review.verdict.value}", "", review.note, ""]
    if review.findings:
        body += ["## Findings", *[f"- **{f.severity}**{' (' + f.section + ')' if f.section else ''}: "
                                  f"{f.description}" for f in review.findings], ""]
    if review.revision_requests:
        body += ["## Revision requests", *[f"- {r}" for r in review.revision_requests], ""]
    return f"reviews/{stem}.review.md", frontmatter.dump(meta, "\n".join(body))
