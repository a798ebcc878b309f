"""The structural review's word minimum: words are runs of word characters, counted as before."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from marketing_team.catalog.specs import SkillSpec
from marketing_team.director.structural_review import has_words, structural_review
from marketing_team.domain.review import Verdict

# Word characters of several scripts, digits, underscores, punctuation, spacing and line breaks
_TEXT = st.text(alphabet=st.sampled_from(list("ab_9é字ß -—.,'\n\t#*")), max_size=300)


@settings(max_examples=300, deadline=None)
@given(body=_TEXT, spread=st.integers(min_value=-3, max_value=3))
def test_has_words_agrees_with_counting_every_run_of_word_characters(body: str, spread: int) -> None:
    count = len(re.findall(r"\w+", body))
    wanted = max(0, count + spread)
    assert has_words(body, wanted) is (count >= wanted)


def test_has_words_takes_a_minimum_beyond_what_a_pattern_may_repeat() -> None:
    assert has_words("word " * 20_001, 20_001) and not has_words("word " * 20_000, 20_001)


def _spec(min_words: int) -> SkillSpec:
    return SkillSpec(slug="copywriting", name="Copywriting", description="Copy", squad="content",
                     min_words=min_words, instructions="Write.", source=Path("SKILL.md"))


def test_a_draft_short_of_words_is_sent_back_with_its_exact_count() -> None:
    body = "---\nskill: copywriting\n---\n# Draft\n\n" + "one two-three four_five, " * 40 + "\nend\n"
    review = structural_review(body, _spec(200))
    assert review.verdict is Verdict.REVISE
    assert [f.description for f in review.findings] == ["162 words; at least 200 required."]
    assert structural_review(body, _spec(162)).verdict is Verdict.APPROVE
