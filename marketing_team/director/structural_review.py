"""Structural review of a deliverable: empty, too short, missing sections, too few words."""

from __future__ import annotations

import re

from marketing_team.catalog.specs import SkillSpec
from marketing_team.domain.review import Finding, Review, Severity, Verdict
from marketing_team.domain.text import headings, normalise

_FRONT = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


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
    words = len(re.findall(r"\w+", body))
    if words < skill.min_words:
        findings.append(Finding(severity=Severity.MAJOR,
                                description=f"{words} words; at least {skill.min_words} required."))
    if findings:
        requests = tuple(f"Add the '{f.section}' section as a `## {f.section}` heading." if f.section
                         else "Expand the deliverable to the minimum length with specifics."
                         for f in findings)
        return Review(verdict=Verdict.REVISE, findings=tuple(findings), revision_requests=requests,
                      note="structural check failed")
    return Review(verdict=Verdict.APPROVE, note="structural check passed")
