"""Markdown with YAML front matter, parsed with a real YAML parser so hostile bodies round-trip."""

from __future__ import annotations

import json
import math
import re
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


# Every stored deliverable and review gets front matter of a few flat scalars (~0.1 ms through
# PyYAML's representer): those are written directly, as PyYAML would, and anything else goes
# through PyYAML. A plain word starts with a letter and is no YAML 1.1 keyword, so it reads back
# as the same string; other printable ASCII is single-quoted (only `'` is escaped, as `''`).
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./@-]*\Z")
_KEYWORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+\Z")  # what repr gives that YAML 1.1 reads back as a float


def _scalar(value: Any) -> str | None:
    """value as a YAML scalar that loads back equal, or None when PyYAML should render it.

    Exact types only: a subclass (an enum with a str or int mixin, say) may print as something
    else, and PyYAML's safe dumper refuses it anyway.
    """
    kind = type(value)
    if value is None or kind is bool:
        return {None: "null", True: "true", False: "false"}[value]
    if kind is int:
        return str(value)
    if kind is float:
        shown = repr(value)
        return shown if math.isfinite(value) and _FLOAT.match(shown) else None
    if kind is str:
        text = str(value)
        if _WORD.match(text) and text.lower() not in _KEYWORDS:
            return text
        if text.isascii() and text.isprintable():
            return "'" + text.replace("'", "''") + "'"
    return None


# YAML refuses a plain (implicit) key longer than this; PyYAML writes a longer one as `? key`.
_MAX_KEY = 1024


def _key(name: Any) -> bool:
    return (type(name) is str and len(name) <= _MAX_KEY and bool(_WORD.match(name))
            and name.lower() not in _KEYWORDS)


def _dump_flat(meta: Mapping[str, Any]) -> str | None:
    """meta as YAML when every value is a scalar or a mapping of scalars, else None."""
    lines: list[str] = []
    for name, value in meta.items():
        if not _key(name):
            return None
        if isinstance(value, Mapping):
            if not value:  # a review's scores, when no model scored it
                lines.append(f"{name}: {{}}")
                continue
            lines.append(f"{name}:")
            for inner, item in value.items():
                shown = _scalar(item)
                if not _key(inner) or shown is None:
                    return None
                lines.append(f"  {inner}: {shown}")
            continue
        shown = _scalar(value)
        if shown is None:
            return None
        lines.append(f"{name}: {shown}")
    return "".join(line + "\n" for line in lines) if lines else None


# What _dump_flat writes, read back without PyYAML (~50 us a header even with libyaml; a step
# reads several). Each form reads as YAML 1.1 reads it; any other line goes to the YAML parser.
_CONSTANTS: dict[str, Any] = {"null": None, "true": True, "false": False}
_INT = re.compile(r"(?:0|-?[1-9][0-9]{0,99})\Z")  # no sign on 0, no leading 0 (octal in YAML 1.1)
_QUOTED = re.compile(r"'((?:[ -&(-~]|'')*)'\Z")  # printable ASCII; a quote only doubled
_MISSING = object()


def _read_scalar(text: str) -> Any:
    """The value a scalar _dump_flat wrote stands for, or _MISSING for any other text."""
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text == "{}":
        return {}
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if _WORD.match(text) and text.lower() not in _KEYWORDS:
        return text
    quoted = _QUOTED.match(text)
    return quoted.group(1).replace("''", "'") if quoted else _MISSING


def _load_flat(header: str) -> dict[str, Any] | None:
    """header as a mapping when it has only the lines _dump_flat writes, else None."""
    if not header.endswith("\n"):
        return None
    meta: dict[str, Any] = {}
    inner: dict[str, Any] | None = None  # the mapping indented lines belong to, while one is open
    for line in header[:-1].split("\n"):
        if line.startswith("  "):
            if inner is None:
                return None
            target, (name, sep, shown) = inner, line[2:].partition(": ")
        else:
            if inner is not None and not inner:
                return None  # `name:` with nothing under it reads as null: left to YAML
            inner = None
            if line.endswith(":") and _key(line[:-1]) and line[:-1] not in meta:
                inner = meta[line[:-1]] = {}  # a mapping's first line
                continue
            target, (name, sep, shown) = meta, line.partition(": ")
        value = _read_scalar(shown)
        if not sep or not _key(name) or name in target or value is _MISSING:
            return None
        target[name] = value
    return None if inner is not None and not inner else meta


def dump(meta: Mapping[str, Any], body: str) -> str:
    """Render front matter and body; the body is stored verbatim."""
    flat = _dump_flat(meta)
    if flat is not None:
        return f"{_DELIM}\n{flat}{_DELIM}\n{body}"
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
    # The catalog's loader records where each key was: only the default one may be skipped.
    flat = _load_flat(header) if loader is _Loader and header else None
    if flat is not None:
        return flat, body
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
