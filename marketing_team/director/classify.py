"""Goal category by word-stem rules from the catalog, with an LLM fallback when no rule matches."""

from __future__ import annotations

import re

from pydantic import BaseModel

from marketing_team.catalog.specs import Catalog
from marketing_team.domain.errors import LLMError
from marketing_team.domain.goal import Category
from marketing_team.llm.protocol import LLM, Message, SystemBlock, parsed_as

_WORD = re.compile(r"[a-z0-9][a-z0-9/+-]*")


def classify_by_rules(text: str, catalog: Catalog) -> Category | None:
    """The first category (in catalog order) one of whose stems starts a word of the text."""
    words = _WORD.findall(text.lower())
    for category, stems in catalog.category_rules:
        for stem in stems:
            if any(word.startswith(stem) for word in words):
                return category
    return None


class CategoryChoice(BaseModel):
    """The LLM's pick of a category."""

    category: Category
    reason: str = ""


def classify(text: str, catalog: Catalog, llm: LLM, model: str) -> Category:
    """Rules first; when none matches ask the model; the offline provider answers `strategic`."""
    found = classify_by_rules(text, catalog)
    if found is not None:
        return found
    try:
        reply = llm.complete(
            [SystemBlock("You classify marketing goals. Answer with JSON only.")],
            [Message("user", "<task>Pick the category of this goal: "
                     + ", ".join(c.value for c in Category) + "</task>\n<goal>" + text + "</goal>")],
            model,
            256,
            schema=CategoryChoice,
        )
    except LLMError as exc:
        if exc.transient or not exc.falls_back:
            raise
        return Category.STRATEGIC  # the broadest category: its rule plan covers most goals
    return parsed_as(reply, CategoryChoice).category
