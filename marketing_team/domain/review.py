"""A reviewer's verdict on a deliverable: findings, revision requests and the seven quality scores."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from marketing_team.domain.values import Frozen


class Severity(StrEnum):
    """How much a review finding matters."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    SUGGESTION = "suggestion"


class Verdict(StrEnum):
    """The reviewer's decision."""

    APPROVE = "APPROVE"
    REVISE = "REVISE"
    REJECT = "REJECT"


class Finding(Frozen):
    """One problem a reviewer found."""

    severity: Severity
    description: str
    section: str | None = None


SCORE_DIMENSIONS = (
    "completeness",
    "clarity",
    "actionability",
    "brand_alignment",
    "data_driven",
    "technical_accuracy",
    "creativity",
)


class Review(Frozen):
    """A verdict on a deliverable, with findings, requests and quality scores (0–10)."""

    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    revision_requests: tuple[str, ...] = ()
    scores: dict[str, float] = Field(default_factory=dict)
    overall: float | None = None
    reviewer: Literal["structural", "llm", "offline", "human"] = "structural"
    note: str = ""

    @property
    def feedback(self) -> str:
        """The findings and requests as text for a revision prompt."""
        lines = [f"- [{f.severity}] {f.section + ': ' if f.section else ''}{f.description}" for f in self.findings]
        lines += [f"- Request: {r}" for r in self.revision_requests]
        return "\n".join(lines)
