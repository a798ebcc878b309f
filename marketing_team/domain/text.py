"""Plain-text helpers on markdown the team writes and reads: headings compared loosely."""

from __future__ import annotations

import re

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def normalise(text: str) -> str:
    """Heading text compared loosely: lower case, punctuation folded to single spaces."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def headings(text: str) -> list[str]:
    """Every markdown heading's text, normalised."""
    return [normalise(h) for h in _HEADING.findall(text)]
