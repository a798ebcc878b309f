"""The export folder: hostile markdown round-trips, corrupt files are named, writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest
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
