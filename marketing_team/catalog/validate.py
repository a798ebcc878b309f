"""Check the merged catalog (package data plus MT_CATALOG_DIR); report each problem by file:line."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from marketing_team.catalog import file_checks, lined_yaml
from marketing_team.catalog.lined_yaml import LinedList, LinedMap, line_of
from marketing_team.catalog.loader import PACKAGE_DIR, load_catalog_from
from marketing_team.catalog.specs import FOUNDATION
from marketing_team.errors import ConfigurationError, CorruptFileError

_FILES = {
    "team.yaml": (("squads", "foundation", "edges"), file_checks.check_team),
    "pipelines.yaml": (("pipelines",), file_checks.check_pipelines),
    "routing.yaml": (("category_rules", "routing"), file_checks.check_routing),
    "schedules.yaml": (("schedules",), file_checks.check_schedules),
    "events.yaml": (("mappings",), file_checks.check_events),
}
_LABELS = {"op": "operator", "event": "event type"}
_WHERE = re.compile(r"^(?P<file>.+?\.(?:ya?ml|md))(?::(?P<line>\d+))?: (?P<msg>.*)$", re.DOTALL)
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
class Run:
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
            data, duplicates = lined_yaml.parse(text, first_line)
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

    def layer(self, layer: Path, package: bool) -> None:
        """Check one layer's YAML files and skill folders, merging what they declare."""
        for filename, (keys, check) in _FILES.items():
            path = layer / filename
            if not path.is_file():
                continue
            ok, data = self.parse(path, path.read_text(encoding="utf-8"))
            if not ok or data is None:
                continue
            if not isinstance(data, LinedMap):
                self.add(path, 1, f"expected a mapping with {', '.join(keys)}")
                continue
            for key in data:
                if key not in keys:
                    expected = ", ".join(keys)
                    self.add(path, data.lines[key], f"unknown key {key!r} (expected {expected})")
            if "foundation" in data and not package:  # the loader reads it from the package only
                self.add(path, data.lines["foundation"],
                         "'foundation' is read from the package catalog only")
            check(self, path, data)
        names: dict[str, tuple[Path, int]] = {}
        root = layer / "skills"
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            if folder.is_dir() and not folder.name.startswith("."):
                if (folder / "SKILL.md").is_file():
                    file_checks.check_skill(self, folder, names, package)
                else:
                    self.add(folder, 0, "skill folder without a SKILL.md")

    def merged(self) -> None:
        """References resolve, squads agree, no dependency cycles: checks on the merged result."""
        known = {"skill": set(self.skills), "pipeline": self.pipelines,
                 "squad": set(self.squads) | {FOUNDATION, file_checks.UNASSIGNED}}
        for refs in self.refs.values():
            for kind, name, path, line, ctx in refs:
                if name not in known[kind]:
                    close = difflib.get_close_matches(name, known[kind], n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    self.add(path, line, f"{ctx}: unknown {kind} {name!r}{hint}")
        squad_of: dict[str, str] = {}
        for squad, members in self.squads.items():
            for slug, path, line in members:
                if squad_of.setdefault(slug, squad) != squad:
                    self.add(path, line,
                             f"skill {slug!r} is in two squads: {squad_of[slug]!r} and {squad!r}")
        for slug, (path, meta) in self.skills.items():
            said = meta.get("squad")
            if isinstance(said, str) and slug in squad_of and squad_of[slug] != said:
                self.add(path, meta.lines["squad"],
                         f"squad {said!r} here, but team.yaml lists it in {squad_of[slug]!r}")
        self.cycles()

    def cycles(self) -> None:
        """Report each cycle in the producer → consumer graph once, with its path."""
        origin = dict(self.edges)
        for slug, consumers in self.skill_edges.items():
            for consumer, path, line in consumers:
                origin.setdefault((slug, consumer), (path, line))
        graph: dict[str, list[str]] = {}
        for producer, consumer in origin:
            graph.setdefault(producer, []).append(consumer)
        state: dict[str, int] = {}  # 1 on the current path, 2 finished
        reported: set[frozenset[str]] = set()

        def visit(node: str, stack: list[str]) -> None:
            state[node] = 1
            stack.append(node)
            for nxt in graph.get(node, []):
                if state.get(nxt) == 1:
                    cycle = [*stack[stack.index(nxt):], nxt]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        # Blame the edge a user added, not the package edge it happens to close.
                        spots = [origin[(a, b)] for a, b in zip(cycle, cycle[1:], strict=False)]
                        user = [i for i, s in enumerate(spots) if PACKAGE_DIR not in s[0].parents]
                        start = (user or [len(spots) - 1])[-1]
                        path, line = spots[start]
                        ring = cycle[start:-1] + cycle[:start]  # read from the blamed edge
                        self.add(path, line, "dependency cycle: " + " -> ".join([*ring, ring[0]]))
                elif nxt not in state:
                    visit(nxt, stack)
            stack.pop()
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node, [])

    def loader(self, user_dir: Path | None) -> None:
        """Whatever the loader itself refuses is a problem too, unless already explained."""
        try:
            load_catalog_from(user_dir)
        except (ConfigurationError, CorruptFileError) as exc:
            found = _WHERE.match(str(exc))
            path = Path(found["file"]) if found else (user_dir or PACKAGE_DIR)
            line = int(found["line"] or 0) if found else 0
            if not any(p.file == path for p in self.problems):  # already explained, with a line
                self.add(path, line, found["msg"] if found else str(exc))


def validate_catalog(user_dir: Path | None) -> list[Problem]:
    """Every problem in the merged catalog, sorted by file and line; empty when it is valid."""
    run = Run()
    layers = [PACKAGE_DIR]
    if user_dir is not None and user_dir.is_dir():
        layers.append(user_dir)
    elif user_dir is not None:
        run.add(user_dir, 0, "MT_CATALOG_DIR is not a directory")
    for layer in layers:
        run.layer(layer, package=layer == PACKAGE_DIR)
    run.merged()
    run.loader(user_dir)
    return sorted(dict.fromkeys(run.problems))
