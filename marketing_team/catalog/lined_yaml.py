"""YAML parsed with line numbers kept, so a catalog problem can point at its file and line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from marketing_team.catalog.bounds import NoAliasLoader


class LinedMap(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key."""

    def __init__(self, line: int = 1) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}


class LinedList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item."""

    def __init__(self, items: Iterable[Any] = (), lines: Iterable[int] = (), line: int = 1) -> None:
        super().__init__(items)
        self.line = line
        self.lines = list(lines)


class LinedYAMLError(ValueError):
    """The text is not valid YAML; `line` is where the parser gave up."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"invalid YAML: {problem}")
        self.line = line


class _Loader(NoAliasLoader):
    duplicates: list[tuple[int, str]]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LinedMap:
    loader.flatten_mapping(node)
    out = LinedMap(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | None):
            key = str(key)
        if key in out:  # PyYAML keeps the last value silently; a user would never notice
            loader.duplicates.append((key_node.start_mark.line + 1, str(key)))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_list(loader: _Loader, node: yaml.SequenceNode) -> LinedList:
    return LinedList((loader.construct_object(child, deep=True) for child in node.value),
                     (child.start_mark.line + 1 for child in node.value), node.start_mark.line + 1)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_list)  # type: ignore[arg-type]


def load_lined(text: str, first_line: int = 1) -> tuple[Any, list[tuple[int, str]]]:
    """The data (mappings and lists carry lines) and the duplicate keys as (line, key)."""
    # Leading newlines shift every mark, so a front-matter block reports file line numbers.
    loader = _Loader("\n" * (first_line - 1) + text)
    loader.duplicates = []
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LinedYAMLError(mark.line + 1 if mark else first_line, str(exc.problem)) from None
    except yaml.YAMLError as exc:
        raise LinedYAMLError(first_line, str(exc)) from None
    finally:
        loader.dispose()


def line_of(data: Any, path: tuple[int | str, ...], default: int) -> int:
    """The line of the deepest part of `path` (a pydantic error location) found in `data`."""
    line = data.line if isinstance(data, LinedMap | LinedList) else default
    for part in path:
        if isinstance(data, LinedMap) and part in data:
            line, data = data.lines[part], data[part]
        elif isinstance(data, LinedList) and isinstance(part, int) and 0 <= part < len(data):
            line, data = data.lines[part], data[part]
        else:
            break
    return line
