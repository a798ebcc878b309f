"""The export folder: hostile markdown round-trips, corrupt files are named, writes are atomic."""

from __future__ import annotations

from enum import Enum, IntEnum
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from marketing_team.domain.errors import CorruptFileError
from marketing_team.store import frontmatter
from marketing_team.store.workspace import atomic_write

HOSTILE = "---\ntitle: not front matter\n---\n# Heading: with colon\n\n---\n```yaml\na: b\n```\n"


def test_frontmatter_body_with_delimiters_colons_and_headings_round_trips() -> None:
    meta = {"skill": "copywriting", "note": "value: with colon\n---\nand a delimiter line"}
    parsed_meta, body = frontmatter.parse(frontmatter.dump(meta, HOSTILE))
    assert parsed_meta == meta and body == HOSTILE


@settings(max_examples=200, deadline=None)
@given(meta=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=40), max_size=4),
       body=st.text(max_size=200))
def test_frontmatter_round_trips_any_text(meta: dict[str, str], body: str) -> None:
    parsed_meta, parsed_body = frontmatter.parse(frontmatter.dump(meta, body))
    assert parsed_meta == meta and parsed_body == body


def test_frontmatter_corrupt_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "goal.md"
    path.write_text("---\nkey: [unclosed\n---\nbody\n")
    with pytest.raises(CorruptFileError, match=str(path)):
        frontmatter.read(path)


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.md"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two" and [p.name for p in target.parent.iterdir()] == ["b.md"]


_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                     st.sampled_from(["yes", "No", "on", "NULL", "~", "0x1F", "1_000", "1:30", ".inf",
                                      "=", "<<", "a: b", "#x", "'quoted'", "1e5", "-", "0.5"]))


@settings(max_examples=300, deadline=None)
@given(meta=st.dictionaries(_NAMES, st.one_of(_SCALARS, st.dictionaries(_NAMES, _SCALARS, max_size=3)),
                            max_size=6))
def test_frontmatter_round_trips_flat_scalars_of_every_kind(meta: dict[str, object]) -> None:
    # The shape every deliverable and review has: YAML keywords, numbers in strings, quotes
    assert frontmatter.parse(frontmatter.dump(meta, "body"))[0] == meta


def test_frontmatter_a_deliverable_reads_as_pyyaml_would_write_it() -> None:
    meta = {"task_id": "task-1", "skill": "copy-editing", "model": "claude-sonnet-5", "tokens_in": 12,
            "cost_usd": "0.0123", "truncated": False, "scores": {"clarity": 8.5}}
    assert frontmatter.dump(meta, "") == (
        "---\ntask_id: task-1\nskill: copy-editing\nmodel: claude-sonnet-5\ntokens_in: 12\n"
        "cost_usd: '0.0123'\ntruncated: false\nscores:\n  clarity: 8.5\n---\n")


class _Verdict(str, Enum):  # noqa: UP042 - a str-mixin enum, as pydantic and older code define them
    APPROVED = "approved"


class _Label(str):
    def __str__(self) -> str:
        return "something else"

    def __format__(self, spec: str) -> str:
        return "something else"


@pytest.mark.parametrize("value", [_Verdict.APPROVED, _Label("copy"), IntEnum("Level", "LOW HIGH").HIGH])
def test_frontmatter_a_subclassed_scalar_never_loads_back_as_another_value(value: object) -> None:
    for meta in ({"verdict": value}, {"scores": {"verdict": value}}):
        try:
            text = frontmatter.dump(meta, "body")
        except yaml.representer.RepresenterError:
            continue  # PyYAML's refusal of a type it does not know, as before the fast path
        assert frontmatter.parse(text)[0] == meta, text
