"""Structural review of a deliverable: empty, too short, missing sections, too few words."""

from __future__ import annotations

import re
from functools import lru_cache

from marketing_team.catalog.specs import SkillSpec
from marketing_team.domain.review import Finding, Review, Severity, Verdict
from marketing_team.domain.text import headings, normalise

_FRONT = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_WORDS = re.compile(r"\w+")
# Past this a bounded repeat is not worth compiling (and the re module caps repeat counts).
_MAX_COUNTED_REPEAT = 10_000


@lru_cache(maxsize=64)
def _at_least(words: int) -> re.Pattern[str]:
    # Possessive quantifiers take each run of word characters whole and never give any back, so
    # the match is linear, and it succeeds exactly when there are `words` runs (\w+ matches).
    return re.compile(r"(?:\W*+\w++){" + str(words) + "}")


def has_words(body: str, words: int) -> bool:
    """True when body has at least `words` words (runs of \\w), counted no further than that.

    A deliverable runs to thousands of words; listing them all to compare the count with a
    minimum cost ~0.2-0.3 ms of a step's CPU, the bounded match a sixth of that.
    """
    if words > _MAX_COUNTED_REPEAT:
        return len(_WORDS.findall(body)) >= words
    return _at_least(words).match(body) is not None


def structural_review(text: str, skill: SkillSpec) -> Review:
    """REJECT when empty, REVISE when short or missing required sections or words, else APPROVE."""
    body = _FRONT.sub("", text, count=1).strip()
    if not body:
        return Review(verdict=Verdict.REJECT, note="empty deliverable",
                      findings=(Finding(severity=Severity.CRITICAL, description="The deliverable is empty."),))
    lines = [line for line in body.splitlines() if line.strip()]
    if len(body) < 100 or len(lines) < 3:
        return Review(verdict=Verdict.REVISE, note="too short",
                      findings=(Finding(severity=Severity.CRITICAL,
                                        description=f"Only {len(body)} characters in {len(lines)} lines."),),
                      revision_requests=("Write the complete deliverable with every required section.",))
    found = headings(body)
    findings = []
    for section in skill.sections:
        wanted = normalise(section)
        if not any(h == wanted or h.startswith(wanted) or wanted in h for h in found):
            findings.append(Finding(severity=Severity.MAJOR, section=section,
                                    description=f"Required section '{section}' is missing."))
    if not has_words(body, skill.min_words):
        words = len(_WORDS.findall(body))
        findings.append(Finding(severity=Severity.MAJOR,
                                description=f"{words} words; at least {skill.min_words} required."))
    if findings:
        requests = tuple(f"Add the '{f.section}' section as a `## {f.section}` heading." if f.section
                         else "Expand the deliverable to the minimum length with specifics."
                         for f in findings)
        return Review(verdict=Verdict.REVISE, findings=tuple(findings), revision_requests=requests,
                      note="structural check failed")
    return Review(verdict=Verdict.APPROVE, note="structural check passed")
