"""Check the merged catalog (package data plus MT_CATALOG_DIR); report each problem by file:line."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from marketing_team.catalog import file_checks
from marketing_team.catalog.bounds import read_bounded
from marketing_team.catalog.lined_yaml import LinedMap
from marketing_team.catalog.loader import PACKAGE_DIR, load_catalog_from
from marketing_team.catalog.specs import FOUNDATION
from marketing_team.catalog.validation_run import Problem, ValidationRun
from marketing_team.domain.errors import ConfigurationError, CorruptFileError

_FILES = {
    "team.yaml": (("squads", "foundation", "edges"), file_checks.check_team),
    "pipelines.yaml": (("pipelines",), file_checks.check_pipelines),
    "routing.yaml": (("category_rules", "routing"), file_checks.check_routing),
    "schedules.yaml": (("schedules",), file_checks.check_schedules),
    "events.yaml": (("mappings",), file_checks.check_events),
}
_WHERE = re.compile(r"^(?P<file>.+?\.(?:ya?ml|md))(?::(?P<line>\d+))?: (?P<msg>.*)$", re.DOTALL)


def _layer(run: ValidationRun, layer: Path, package: bool) -> None:
    """Check one layer's YAML files and skill folders, merging what they declare."""
    for filename, (keys, check) in _FILES.items():
        path = layer / filename
        if not path.is_file():
            continue
        try:
            text = read_bounded(path)
        except ConfigurationError as exc:
            run.add(path, 0, str(exc).removeprefix(f"{path}: "))
            continue
        ok, data = run.parse(path, text)
        if not ok or data is None:
            continue
        if not isinstance(data, LinedMap):
            run.add(path, 1, f"expected a mapping with {', '.join(keys)}")
            continue
        for key in data:
            if key not in keys:
                expected = ", ".join(keys)
                run.add(path, data.lines[key], f"unknown key {key!r} (expected {expected})")
        if "foundation" in data and not package:  # the loader reads it from the package only
            run.add(path, data.lines["foundation"],
                     "'foundation' is read from the package catalog only")
        check(run, path, data)
    names: dict[str, tuple[Path, int]] = {}
    root = layer / "skills"
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("."):
            if (folder / "SKILL.md").is_file():
                file_checks.check_skill(run, folder, names, package)
            else:
                run.add(folder, 0, "skill folder without a SKILL.md")


def _merged(run: ValidationRun) -> None:
    """References resolve, squads agree, no dependency cycles: checks on the merged result."""
    known = {"skill": set(run.skills), "pipeline": run.pipelines,
             "squad": set(run.squads) | {FOUNDATION, file_checks.UNASSIGNED}}
    for refs in run.refs.values():
        for kind, name, path, line, ctx in refs:
            if name not in known[kind]:
                close = difflib.get_close_matches(name, known[kind], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                run.add(path, line, f"{ctx}: unknown {kind} {name!r}{hint}")
    squad_of: dict[str, str] = {}
    for squad, members in run.squads.items():
        for slug, path, line in members:
            if squad_of.setdefault(slug, squad) != squad:
                run.add(path, line,
                         f"skill {slug!r} is in two squads: {squad_of[slug]!r} and {squad!r}")
    for slug, (path, meta) in run.skills.items():
        said = meta.get("squad")
        if isinstance(said, str) and slug in squad_of and squad_of[slug] != said:
            run.add(path, meta.lines["squad"],
                     f"squad {said!r} here, but team.yaml lists it in {squad_of[slug]!r}")
    _cycles(run)


def _cycles(run: ValidationRun) -> None:
    """Report each cycle in the producer → consumer graph once, with its path."""
    origin = dict(run.edges)
    for slug, consumers in run.skill_edges.items():
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
                    run.add(path, line, "dependency cycle: " + " -> ".join([*ring, ring[0]]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def _loader(run: ValidationRun, user_dir: Path | None) -> None:
    """Whatever the loader itself refuses is a problem too, unless already explained."""
    try:
        load_catalog_from(user_dir)
    except (ConfigurationError, CorruptFileError) as exc:
        found = _WHERE.match(str(exc))
        path = Path(found["file"]) if found else (user_dir or PACKAGE_DIR)
        line = int(found["line"] or 0) if found else 0
        if not any(p.file == path for p in run.problems):  # already explained, with a line
            run.add(path, line, found["msg"] if found else str(exc))


def validate_catalog(user_dir: Path | None) -> list[Problem]:
    """Every problem in the merged catalog, sorted by file and line; empty when it is valid."""
    run = ValidationRun()
    layers = [PACKAGE_DIR]
    if user_dir is not None and user_dir.is_dir():
        layers.append(user_dir)
    elif user_dir is not None:
        run.add(user_dir, 0, "MT_CATALOG_DIR is not a directory")
    for layer in layers:
        _layer(run, layer, package=layer == PACKAGE_DIR)
    _merged(run)
    _loader(run, user_dir)
    return sorted(dict.fromkeys(run.problems))
