"""The state of one catalog check: problems found so far and what every layer declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from marketing_team.catalog import lined_yaml
from marketing_team.catalog.lined_yaml import LinedList, LinedMap, line_of

_LABELS = {"op": "operator", "event": "event type"}
Ref = tuple[str, str, Path, int, str]  # kind (skill|pipeline|squad), name, file, line, context


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in the catalog and where it is (line 0: the file or folder as a whole)."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"


@dataclass
class ValidationRun:
    """One pass: every layer's declarations merged the way the loader merges them, and problems."""

    problems: list[Problem] = field(default_factory=list)
    squads: dict[str, list[tuple[str, Path, int]]] = field(default_factory=dict)
    pipelines: set[str] = field(default_factory=set)
    skills: dict[str, tuple[Path, LinedMap]] = field(default_factory=dict)
    edges: dict[tuple[str, str], tuple[Path, int]] = field(default_factory=dict)
    skill_edges: dict[str, list[tuple[str, Path, int]]] = field(default_factory=dict)
    refs: dict[tuple[str, str], list[Ref]] = field(default_factory=dict)  # an override replaces

    def add(self, path: Path, line: int, message: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(path, line, message))

    def parse(self, path: Path, text: str, first_line: int = 1) -> tuple[bool, Any]:
        """(parsed, data) of YAML text; syntax errors and duplicate keys become problems."""
        try:
            data, duplicates = lined_yaml.load_lined(text, first_line)
        except lined_yaml.LinedYAMLError as exc:
            self.add(path, exc.line, str(exc))
            return False, None
        for line, key in duplicates:
            self.add(path, line, f"duplicate key {key!r} (the later one would silently win)")
        return True, data

    def items(self, path: Path, data: LinedMap, key: str,
              kind: type[LinedList] | type[LinedMap]) -> list[tuple[int, Any, Any]]:
        """(line, key or None, value) of each entry under a top-level key of the expected kind."""
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, kind):
            shape = "list" if kind is LinedList else "mapping"
            self.add(path, data.lines[key], f"{key!r} must be a {shape}")
            return []
        if isinstance(value, LinedList):
            return [(line, None, item) for line, item in zip(value.lines, value, strict=True)]
        return [(value.lines[k], k, v) for k, v in value.items()]

    def model(self, path: Path, line: int, raw: Any, model: type[BaseModel], ctx: str,
              data: Any = None, skip: tuple[str, ...] = (),
              rename: dict[str, str] | None = None) -> None:
        """Validate with the loader's own model so the two never disagree; one problem per error."""
        try:
            model.model_validate(raw if data is None else data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple((rename or {}).get(str(p), p) for p in err["loc"])
                if loc and loc[0] in skip:
                    continue
                where = ".".join(str(p) for p in loc) or "entry"
                at = line_of(raw, loc, line)
                if err["type"] in ("enum", "literal_error"):
                    label = _LABELS.get(str(loc[-1]), str(loc[-1]))
                    expected = (err.get("ctx") or {}).get("expected", "")
                    message = f"unknown {label} {err['input']!r} (expected {expected})"
                    self.add(path, at, f"{ctx}: {message}")
                elif err["type"] == "extra_forbidden":
                    self.add(path, at, f"{ctx}: unknown field {where!r}")
                else:
                    self.add(path, at, f"{ctx}: {where}: {err['msg']}")

    def slugs(self, path: Path, raw: Any, line: int, ctx: str) -> list[tuple[str, int]]:
        """(slug, line) from one slug or a list of them; any other shape is a problem."""
        if isinstance(raw, str):
            return [(raw, line)]
        if isinstance(raw, LinedList) and raw and all(isinstance(item, str) for item in raw):
            return list(zip(raw, raw.lines, strict=True))
        self.add(path, line, f"{ctx}: expected a skill slug or a non-empty list of slugs")
        return []
