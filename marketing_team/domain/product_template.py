"""The product context's template, and what of a context text reaches skills (pure text rules).

`mtctl init` writes the template; its comments guide a person and are never context. A file
with nothing but the template's headings and comments says nothing about the product, so it
counts as no context: plans keep the step that drafts one, and skills are told to state
assumptions instead of reading guidance written for people.
"""

from __future__ import annotations

import re

from marketing_team.domain.text import headings, normalise

PRODUCT_TEMPLATE = """\
# Product marketing context

<!-- Every skill on the team reads this file before it writes anything. Replace each comment
with plain facts in your own words; short bullet points are fine. Leave out what you do not
know rather than guessing: the skills state their assumptions instead of inventing facts.
Delete the comments when you are done (they are harmless if you do not). -->

## Product
<!-- What it is in one sentence, what it does, who makes it, the price and plans, and how people
start (free trial, freemium, demo). Name the three features that matter most to buyers. -->

## Audience
<!-- Who buys and who uses: company size, industry, role, region, and what is going on for them
when they start looking. Say who the product is NOT for. -->

## Personas
<!-- Two or three people by role (e.g. "Head of Growth at a 50-person SaaS"): their goals, what
they are measured on, what they read, and the words they use for the problem. -->

## Pains
<!-- The problems that make people look for a product like this, in the customer's words, and
what each pain costs them (time, money, risk). Put the most painful first. -->

## Competitors
<!-- Named competitors and the other ways people solve the problem today (spreadsheets, an
agency, doing nothing). For each: who picks it and why, and where it falls short. -->

## Differentiation
<!-- Why someone picks us over each alternative above: the two or three differences a buyer
can verify, and the proof for each. Avoid claims every competitor could also make. -->

## Objections
<!-- What stops people from buying or switching (price, migration effort, security, "we
already have a tool") and the honest answer to each. -->

## Voice
<!-- How we sound: three or four adjectives with a "this, not that" example each, words we use
and words we never use, and how formal we are. Paste a paragraph of copy you like. -->

## Proof points
<!-- Facts the team may quote: customer names we may use, numbers with their source, reviews and
ratings, awards, certifications, guarantees. Anything not listed here will not be claimed. -->

## Goals
<!-- What marketing must achieve this quarter, with numbers and dates (e.g. "trial signups from
800 to 1,100 a month by 30 June"), the main channels, and the monthly budget. -->
"""

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)  # an unclosed comment runs to the end
_HEADING_LINE = re.compile(r"^(#{1,6})\s")
_TEMPLATE_HEADINGS = frozenset(headings(PRODUCT_TEMPLATE))


def is_unfilled(text: str) -> bool:
    """True when text holds nothing but the template's headings and comments (or nothing)."""
    lines = [line for line in _COMMENT.sub("", text).splitlines() if line.strip()]
    return all(_HEADING_LINE.match(line) and normalise(line.lstrip("#")) in _TEMPLATE_HEADINGS
               for line in lines)


def usable_context(text: str) -> str:
    """The context skills may read: comments and the sections left empty removed; "" if unfilled."""
    if is_unfilled(text):
        return ""
    if "<!--" not in text:
        return text  # written by a person or a model as it is: passed on byte for byte
    return _drop_empty_sections(_COMMENT.sub("", text))


def _drop_empty_sections(text: str) -> str:
    # A heading whose section holds nothing (its comment was all it had) tells a skill nothing;
    # a heading followed by a deeper one is a parent and stays.
    lines = [line.rstrip() for line in text.splitlines()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        level = _HEADING_LINE.match(line)
        if level is not None and _section_is_empty(lines[index + 1:], len(level.group(1))):
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"


def _section_is_empty(rest: list[str], level: int) -> bool:
    for line in rest:
        deeper = _HEADING_LINE.match(line)
        if deeper is not None:
            return len(deeper.group(1)) <= level
        if line.strip():
            return False
    return True
