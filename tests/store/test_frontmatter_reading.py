"""Front matter reads exactly as YAML reads it, whether or not PyYAML is asked."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from marketing_team.domain.errors import CorruptFileError
from marketing_team.store import frontmatter

_KEYS = st.sampled_from(["skill", "cost_usd", "a.b", "x-y", "Yes", "null", "on", "1a", "_x", "k k",
                         "scores", "a:b", "é", ""])
_VALUES = st.one_of(
    st.sampled_from(["null", "Null", "~", "true", "False", "yes", "no", "on", "0", "-0", "0123",
                     "12", "-7", "1_000", "1e5", "0.5", "-0.0", ".5", "1.", ".inf", "0x1F", "1:30",
                     "2026-11-30", "copywriting", "claude-sonnet-5", "a #b", "a: b", " x", "x ",
                     "''", "'a''b'", "'a'b'", "'it''s: #1'", "\"q\"", "{}", "{a: 1}", "[]", "- x",
                     "&a x", "*a", "!!str 1", "|", ">", "", "9" * 120, "é", "a\tb", "a\rb"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8))
_NAMES = st.sampled_from(["skill", "cost_usd", "a.b", "x-y", "scores", "v2"])
# Lines the team writes, with any value (most headers then take the fast path), and lines of any shape
_CLEAN = st.tuples(st.sampled_from(["", "", "", "  "]), _NAMES, st.just(": "), _VALUES)
_OPENS = st.tuples(st.just(""), _NAMES, st.just(":"), st.just(""))  # a mapping's first line
_ANY = st.tuples(st.sampled_from(["", "  ", "   ", "\t"]), _KEYS,
                 st.sampled_from([": ", ":", ":  ", " : "]), _VALUES)
_LINES = st.one_of(_CLEAN, _CLEAN, _CLEAN, _OPENS, _ANY)


def _yaml(header: str) -> Any:
    try:
        return yaml.load(header, Loader=yaml.CSafeLoader) if header.strip() else {}
    except yaml.YAMLError:
        return CorruptFileError


def _ours(header: str) -> Any:
    try:
        return frontmatter.parse(f"---\n{header}---\nbody")[0]
    except CorruptFileError:
        return CorruptFileError


@settings(max_examples=1500, deadline=None)
@given(lines=st.lists(_LINES, max_size=6))
def test_any_header_reads_as_yaml_reads_it(lines: list[tuple[str, str, str, str]]) -> None:
    header = "".join(f"{indent}{key}{sep}{value}\n" for indent, key, sep, value in lines)
    expected = _yaml(header)
    if not isinstance(expected, dict) and expected is not CorruptFileError:
        expected = CorruptFileError  # front matter must be a mapping
    assert _ours(header) == expected


_WRITTEN = [
    {"task_id": "task-1", "skill": "copy-editing", "model": "claude-sonnet-5", "revision": 0,
     "tokens_in": 12, "cost_usd": "0.0123", "truncated": False, "duration_s": 0.5, "note": None},
    {"deliverable": "page-cro.md", "verdict": "approve", "reviewer": "structural", "overall": None,
     "scores": {}},
    {"deliverable": "page-cro.md", "verdict": "revise", "scores": {"clarity": 8.5, "fit": 7}},
    {"title": "It's 50% off: today only", "status": "yes"},
]


@pytest.mark.parametrize("meta", _WRITTEN)
def test_what_the_team_writes_reads_back_without_the_yaml_parser(meta: dict[str, Any]) -> None:
    text = frontmatter.dump(meta, "# Body\n")
    header = text.split("---\n")[1]
    assert frontmatter._load_flat(header) == meta == yaml.load(header, Loader=yaml.CSafeLoader)
    assert frontmatter.parse(text) == (meta, "# Body\n")


# YAML allows an implicit (plain) key at most 1024 characters long; a longer one is an error.
_LONG = "k" * 1025


@pytest.mark.parametrize("header", [f"{_LONG}: 1\n", f"{_LONG}:\n  x: 1\n", f"s:\n  {_LONG}: 1\n",
                                    f"{'k' * 1024}: 1\n", f"s:\n  {'k' * 1024}: 1\n"])
def test_a_key_longer_than_yaml_allows_reads_as_yaml_reads_it(header: str) -> None:
    expected = _yaml(header)
    assert _ours(header) == expected
    assert (expected is CorruptFileError) is (_LONG in header)


@pytest.mark.parametrize("meta", [{_LONG: 1}, {"s": {_LONG: "v"}}, {"a": 10**150, _LONG: 2}])
def test_a_long_key_round_trips(meta: dict[str, Any]) -> None:
    assert frontmatter.parse(frontmatter.dump(meta, "# Body\n")) == (meta, "# Body\n")
