"""Markdown with YAML front matter, parsed with a real YAML parser so hostile bodies round-trip."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from marketing_team.domain.errors import CorruptFileError

_DELIM = "---"
# libyaml's C parser and emitter are ~10x faster than PyYAML's pure-Python ones (goal.md is read
# and written on every step); same safe subset.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump_yaml(meta: dict[str, Any], allow_unicode: bool) -> str:
    return yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=allow_unicode,
                     default_flow_style=False)


def dump(meta: Mapping[str, Any], body: str) -> str:
    """Render front matter and body; the body is stored verbatim."""
    text = _dump_yaml(dict(meta), allow_unicode=True)
    if not text.replace("\n", "").replace("\t", "").isprintable():
        # Characters YAML reads as line breaks (NEL, LS, PS) or controls: let YAML escape them.
        text = _dump_yaml(dict(meta), allow_unicode=False)
    if any(line.strip() == _DELIM for line in text.splitlines()):
        # A value whose YAML rendering has a bare `---` line would end the block early; JSON is
        # valid YAML and escapes newlines, so it cannot.
        text = json.dumps(dict(meta), ensure_ascii=False, indent=1) + "\n"
    return f"{_DELIM}\n{text}{_DELIM}\n{body}"


def parse(text: str, source: Path | str = "<text>",
          loader: type[Any] = _Loader) -> tuple[dict[str, Any], str]:
    """Split text into (front matter, body); a file without front matter has an empty one.

    loader: the YAML loader class for the front matter (the catalog passes one refusing aliases).
    """
    if not text.startswith(_DELIM + "\n") and not text.startswith(_DELIM + "\r\n"):
        return {}, text
    # Only "\n" ends a line here: str.splitlines would also split a body on NEL or LS.
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == _DELIM:
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            break
    else:
        raise CorruptFileError(f"{source}: front matter is not closed by a '---' line")
    try:
        meta = yaml.load(header, Loader=loader) if header.strip() else {}  # noqa: S506 - safe loaders
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 2}" if mark is not None else ""
        raise CorruptFileError(f"{source}{where}: invalid YAML front matter") from None
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{source}: front matter must be a mapping")
    return meta, body


def read(path: Path) -> tuple[dict[str, Any], str]:
    """Read and parse a markdown file with front matter."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorruptFileError(f"{path}: not UTF-8 text") from None
    return parse(text, path)
