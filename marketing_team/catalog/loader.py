"""Load the catalog from package data, overlaid by the user's directory (MT_CATALOG_DIR)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from marketing_team.catalog.bounds import NoAliasLoader, read_bounded
from marketing_team.catalog.specs import (
    DIRECTOR_REVIEW,
    FOUNDATION,
    Catalog,
    EventMapping,
    PipelineSpec,
    PipelineStep,
    Routing,
    SkillSpec,
)
from marketing_team.domain.errors import ConfigurationError, CorruptFileError
from marketing_team.domain.goal import Category
from marketing_team.domain.schedule import ScheduleEntry
from marketing_team.store import frontmatter

PACKAGE_DIR = Path(__file__).resolve().parent
_TRUSTED: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.MULTILINE)

DIRECTOR_REVIEW_SPEC = SkillSpec(
    slug=DIRECTOR_REVIEW,
    name="Director review",
    description="The Director's review gate over a pipeline's deliverables so far.",
    squad="director",
    tier="sonnet",
    sections=("Summary", "Deliverables Reviewed", "Gaps and Risks", "Decision"),
    min_words=120,
    instructions=(
        "# Director review\n\n"
        "You are the Marketing Director reviewing the deliverables of this pipeline so far "
        "(the <upstream> blocks). Write ## Summary (what the team produced, in 3-5 sentences), "
        "## Deliverables Reviewed (one bullet per deliverable: skill, verdict, the strongest and "
        "weakest point), ## Gaps and Risks (what is missing or inconsistent across deliverables, "
        "and the risk to the goal), ## Decision (ship / ship with changes / rework, with the "
        "three changes that matter most). Never ask questions; state assumptions."
    ),
    source=PACKAGE_DIR,
)


def _loader_for(path: Path) -> type[Any]:
    """The YAML loader for a catalog file: the package's own files are ours (shipped and checked
    in CI), read by libyaml's C loader; an override's text may be anyone's, so aliases and deep
    nesting are refused there (a pure-Python loader, ~10x slower: fine for a few files)."""
    return _TRUSTED if PACKAGE_DIR in path.parents else NoAliasLoader


def _yaml(path: Path) -> Any:
    text = read_bounded(path)
    try:
        return yaml.load(text, Loader=_loader_for(path))  # noqa: S506 - both loaders are safe ones
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigurationError(f"{path}{where}: invalid YAML"
                                 + (f" ({problem})" if problem else "")) from None


def _err(path: Path, what: str, exc: ValidationError) -> ConfigurationError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return ConfigurationError(f"{path}: {what}: {loc + ': ' if loc else ''}{first.get('msg')}")


def load_skill(folder: Path, squad_of: dict[str, str]) -> SkillSpec:
    """Parse one Agent Skills folder; missing fields of ours get defaults."""
    path = folder / "SKILL.md"
    try:
        meta, body = frontmatter.parse(read_bounded(path), path, loader=_loader_for(path))
    except CorruptFileError as exc:
        raise ConfigurationError(str(exc)) from None
    slug = folder.name
    sections = meta.get("sections")
    if sections is None:
        sections = _HEADING.findall(body)
    # Lists go to the model as written: tuple("a-slug") would split a lone string into letters.
    try:
        return SkillSpec(
            slug=slug,
            name=str(meta.get("name", slug)),
            description=str(meta.get("description", "")),
            squad=str(meta.get("squad") or squad_of.get(slug, "unassigned")),
            tier=meta.get("tier", "sonnet"),
            sections=sections,
            min_words=meta.get("min_words", 150),
            downstream=meta.get("downstream") or (),
            instructions=body.strip(),
            source=path,
        )
    except ValidationError as exc:
        raise _err(path, f"skill {slug}", exc) from None


def _layer_dirs(user_dir: Path | None) -> list[Path]:
    dirs = [PACKAGE_DIR]
    if user_dir is not None:
        if not user_dir.is_dir():
            raise ConfigurationError(f"MT_CATALOG_DIR {user_dir} is not a directory")
        dirs.append(user_dir)
    return dirs


def _entries(path: Path, key: str) -> list[Any]:
    if not path.is_file():
        return []
    data = _yaml(path) or {}
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list | dict):
        raise ConfigurationError(f"{path}: expected a mapping with key {key!r}")
    value = data.get(key) or []
    return list(value.items()) if isinstance(value, dict) else list(value)


def _pairs(path: Path, key: str) -> list[tuple[Any, Any]]:
    """(name, value) entries of a top-level mapping such as squads, edges or routing."""
    entries = _entries(path, key)
    if not all(isinstance(entry, tuple) for entry in entries):
        raise ConfigurationError(f"{path}: {key!r} must be a mapping")
    return entries


def _names(path: Path, what: str, value: Any) -> tuple[str, ...]:
    """One name or a list of names (skill slugs, word stems); anything else names the file."""
    if value is None or isinstance(value, str):
        return () if value is None else (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigurationError(f"{path}: {what}: expected a name or a list of names")


def _pipeline(path: Path, raw: Any) -> PipelineSpec:
    try:
        steps = []
        for step in raw.get("steps", []):
            if not isinstance(step, dict) or len(step) != 1:
                raise ConfigurationError(f"{path}: pipeline {raw.get('name')!r}: a step must be "
                                         "one of skill:, parallel: [..] or review:")
            kind, value = next(iter(step.items()))
            if (kind == "parallel") != isinstance(value, list) or not value:
                raise ConfigurationError(f"{path}: pipeline {raw.get('name')!r}: {kind}: takes "
                                         f"{'a list of slugs' if kind == 'parallel' else 'one slug'}")
            skills = tuple(value) if isinstance(value, list) else (str(value),)
            if kind == "review" and skills == ("director",):
                skills = (DIRECTOR_REVIEW,)
            steps.append(PipelineStep(kind=kind, skills=skills))
        return PipelineSpec(name=raw["name"], description=raw.get("description", ""),
                            category=raw["category"], priority=raw.get("priority", "P2"),
                            steps=tuple(steps))
    except (ValidationError, KeyError, AttributeError, TypeError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValidationError) else ""
        if isinstance(exc, ValidationError):
            raise _err(path, "pipeline", exc) from None
        raise ConfigurationError(f"{path}: invalid pipeline entry ({detail})") from None


def load_catalog_from(user_dir: Path | None) -> Catalog:
    """Build the merged catalog; raises ConfigurationError naming the file on the first problem."""
    squads: dict[str, tuple[str, ...]] = {}
    pipelines: dict[str, PipelineSpec] = {}
    routing: dict[Category, Routing] = {}
    rules: dict[Category, tuple[str, ...]] = {}
    schedules: dict[str, ScheduleEntry] = {}
    events: dict[tuple[str, str], EventMapping] = {}
    edges: dict[str, set[str]] = {}
    skill_dirs: dict[str, Path] = {}
    for layer in _layer_dirs(user_dir):
        team = layer / "team.yaml"
        for name, raw in _pairs(team, "squads"):
            if not isinstance(raw, dict):
                raise ConfigurationError(f"{team}: squad {name!r}: expected a mapping with skills")
            squads[str(name)] = _names(team, f"squad {name!r}", raw.get("skills"))
        for producer, consumers in _pairs(team, "edges"):
            edges.setdefault(str(producer), set()).update(
                _names(team, f"edges of {producer!r}", consumers))
        for raw in _entries(layer / "pipelines.yaml", "pipelines"):
            spec = _pipeline(layer / "pipelines.yaml", raw)
            pipelines[spec.name] = spec
        for category, raw in _pairs(layer / "routing.yaml", "routing"):
            try:
                routing[Category(category)] = Routing.model_validate(raw)
            except ValidationError as exc:
                raise _err(layer / "routing.yaml", f"routing {category}", exc) from None
            except ValueError:
                raise ConfigurationError(f"{layer / 'routing.yaml'}: unknown category {category!r}") from None
        for category, stems in _pairs(layer / "routing.yaml", "category_rules"):
            try:
                words = _names(layer / "routing.yaml", f"category_rules {category}", stems)
                rules[Category(category)] = tuple(s.lower() for s in words)
            except ValueError:
                raise ConfigurationError(f"{layer / 'routing.yaml'}: unknown category {category!r}") from None
        for raw in _entries(layer / "schedules.yaml", "schedules"):
            try:
                entry = ScheduleEntry.model_validate(raw)
            except ValidationError as exc:
                raise _err(layer / "schedules.yaml", "schedule", exc) from None
            schedules[entry.id] = entry
        for raw in _entries(layer / "events.yaml", "mappings"):
            try:
                data = dict(raw)
                data["cooldown_s"] = data.pop("cooldown", 0)
                mapping = EventMapping.model_validate(data)
            except ValidationError as exc:
                raise _err(layer / "events.yaml", "mapping", exc) from None
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"{layer / 'events.yaml'}: invalid mapping: {exc}") from None
            events[(mapping.event, mapping.pipeline)] = mapping
        skills_root = layer / "skills"
        if skills_root.is_dir():
            for folder in sorted(skills_root.iterdir()):
                if (folder / "SKILL.md").is_file():
                    skill_dirs[folder.name] = folder
    squad_of = {slug: squad for squad, slugs in squads.items() for slug in slugs}
    foundation_file = _yaml(PACKAGE_DIR / "team.yaml") if (PACKAGE_DIR / "team.yaml").is_file() else {}
    for slug in (foundation_file or {}).get("foundation", []):
        squad_of.setdefault(slug, FOUNDATION)
    skills = {slug: load_skill(folder, squad_of) for slug, folder in skill_dirs.items()}
    for slug, consumers in edges.items():
        if slug in skills:
            merged = tuple(dict.fromkeys(skills[slug].downstream + tuple(sorted(consumers))))
            skills[slug] = skills[slug].model_copy(update={"downstream": merged})
    skills[DIRECTOR_REVIEW] = DIRECTOR_REVIEW_SPEC
    catalog = Catalog(skills=skills, squads=squads, pipelines=pipelines, routing=routing,
                      category_rules=tuple(rules.items()), schedules=tuple(schedules.values()),
                      events=tuple(events.values()))
    return catalog.model_copy(update={"fingerprint": fingerprint(catalog)})


def fingerprint(catalog: Catalog) -> str:
    """A hash of what the team would do with this catalog; where its files lie does not count.

    Two workers with the same skills, pipelines, routing and mappings agree on it, wherever the
    package or MT_CATALOG_DIR is installed.
    """
    data = catalog.model_dump(mode="json", exclude={"fingerprint": True,
                                                    "skills": {"__all__": {"source"}}})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def load_catalog(user_dir: Path | None = None) -> Catalog:
    """The merged catalog, loaded once per process per user directory."""
    return load_catalog_from(user_dir)
