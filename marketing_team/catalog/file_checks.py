"""Checks of one catalog file's entries; each records problems and named references on a ValidationRun."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from marketing_team.catalog.bounds import read_bounded
from marketing_team.catalog.cron import cron_problem
from marketing_team.catalog.lined_yaml import LinedList, LinedMap
from marketing_team.catalog.specs import (
    EventMapping,
    PipelineSpec,
    PipelineStep,
    Routing,
    SkillSpec,
)
from marketing_team.catalog.validation_run import Ref, ValidationRun
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.goal import Category
from marketing_team.domain.schedule import ScheduleEntry

OUR_FIELDS = ("name", "description", "squad", "tier", "sections", "min_words", "downstream")
UNASSIGNED = "unassigned"
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.MULTILINE)  # the loader's rule for sections
_STEP_KINDS = ("skill", "parallel", "review")


def _lined(value: Any) -> tuple[list[int], list[Any]]:
    return (value.lines, list(value)) if isinstance(value, LinedList) else ([], [])


def check_team(run: ValidationRun, path: Path, data: LinedMap) -> None:
    """Squads and their members, producer → consumer edges, and the foundation list."""
    for line, name, raw in run.items(path, data, "squads", LinedMap):
        ctx = f"squad {name!r}"
        if not isinstance(raw, LinedMap) or not isinstance(raw.get("skills"), LinedList):
            run.add(path, line, f"{ctx}: needs a `skills:` list")
            continue
        members = run.slugs(path, raw["skills"], raw.lines["skills"], ctx)
        run.squads[str(name)] = [(slug, path, at) for slug, at in members]
        run.refs[("squad", str(name))] = [("skill", s, path, at, ctx) for s, at in members]
    refs = run.refs.setdefault(("edges", str(path)), [])
    for line, producer, raw in run.items(path, data, "edges", LinedMap):
        refs.append(("skill", str(producer), path, line, "edges"))
        ctx = f"edges of {producer!r}"
        for consumer, at in run.slugs(path, raw, line, ctx) if raw else []:
            refs.append(("skill", consumer, path, at, ctx))
            run.edges.setdefault((str(producer), consumer), (path, at))
    for line, _, slug in run.items(path, data, "foundation", LinedList):
        refs.append(("skill", str(slug), path, line, "foundation"))


def check_pipelines(run: ValidationRun, path: Path, data: LinedMap) -> None:
    """Pipeline templates: names, steps, category and priority; steps name skills."""
    seen: dict[str, int] = {}
    for line, _, raw in run.items(path, data, "pipelines", LinedList):
        name = raw.get("name") if isinstance(raw, LinedMap) else None
        if not isinstance(name, str) or not name.strip():
            run.add(path, line, "pipeline: needs a `name:`")
            continue
        ctx = f"pipeline {name!r}"
        if name in seen:
            run.add(path, line, f"duplicate pipeline name {name!r} (first at line {seen[name]})")
        seen[name] = line
        steps = raw.get("steps")
        refs: list[Ref] = []
        good: list[PipelineStep] = []
        if not isinstance(steps, LinedList) or not steps:
            run.add(path, raw.lines.get("steps", line), f"{ctx}: needs a non-empty list of steps")
            steps = LinedList()
        for at, step in zip(steps.lines, steps, strict=True):
            single = isinstance(step, dict) and len(step) == 1
            kind, value = next(iter(step.items())) if single else ("", None)
            if kind not in _STEP_KINDS or (kind == "parallel") != isinstance(value, LinedList):
                run.add(path, at, f"{ctx}: a step is one of skill: <slug>, "
                                  "parallel: [<slug>, ...] or review: <slug>|director")
                continue
            found = run.slugs(path, value, at, ctx)
            good.append(PipelineStep(kind=kind, skills=tuple(s for s, _ in found) or ("?",)))
            refs += [("skill", s, path, sat, ctx)
                     for s, sat in found if (kind, s) != ("review", "director")]
        fields = {k: v for k, v in raw.items() if k != "steps"}
        run.model(path, line, raw, PipelineSpec, ctx, data={**fields, "steps": good},
                  skip=("steps",))  # steps were checked above, with their own lines
        run.pipelines.add(name)
        run.refs[("pipeline", name)] = refs


def check_routing(run: ValidationRun, path: Path, data: LinedMap) -> None:
    """Category rules and routes; routes name squads, skills and a template."""
    rules = run.items(path, data, "category_rules", LinedMap)
    routes = run.items(path, data, "routing", LinedMap)
    valid = [c.value for c in Category]
    for section, pairs in (("category_rules", rules), ("routing", routes)):
        for line, category, _ in pairs:
            if category not in valid:
                expected = ", ".join(valid)
                run.add(path, line, f"{section}: unknown category {category!r} (expected {expected})")
    for line, category, raw in rules:
        if not isinstance(raw, LinedList) or not all(isinstance(s, str) and s for s in raw):
            run.add(path, line, f"category_rules {category!r}: expected a list of word stems")
    for line, category, raw in routes:
        ctx = f"routing {category!r}"
        run.model(path, line, raw, Routing, ctx)
        refs: list[Ref] = []
        if isinstance(raw, LinedMap) and raw.get("template") is not None:
            refs.append(("pipeline", str(raw["template"]), path, raw.lines["template"], ctx))
        listed = raw.get("routes") if isinstance(raw, LinedMap) else None
        for at, route in zip(*_lined(listed), strict=True):
            if isinstance(route, LinedMap):
                if isinstance(route.get("squad"), str):
                    refs.append(("squad", route["squad"], path, route.lines["squad"], ctx))
                listed = route.get("skills")  # an empty list is the model's problem, reported above
                refs += [("skill", s, path, sat, ctx)
                         for s, sat in (run.slugs(path, listed, at, ctx) if listed else [])]
        run.refs[("routing", str(category))] = refs


def check_schedules(run: ValidationRun, path: Path, data: LinedMap) -> None:
    """Schedules: ids, cron expressions, kinds, targets; pipeline targets are references."""
    seen: dict[str, int] = {}
    for line, _, raw in run.items(path, data, "schedules", LinedList):
        sid = raw.get("id") if isinstance(raw, LinedMap) else None
        ctx = f"schedule {sid!r}" if sid else "schedule"
        run.model(path, line, raw, ScheduleEntry, ctx)
        if not isinstance(raw, LinedMap) or not isinstance(sid, str):
            continue
        if sid in seen:
            run.add(path, line, f"duplicate schedule id {sid!r} (first at line {seen[sid]})")
        seen[sid] = line
        cron = raw.get("cron")
        error = cron_problem(cron) if isinstance(cron, str) else None
        if error:
            run.add(path, raw.lines["cron"], f"{ctx}: bad cron {cron!r}: {error}")
        target = raw.get("target")
        is_pipeline = raw.get("kind") == "pipeline" and isinstance(target, str)
        at = raw.lines.get("target", line)
        run.refs[("schedule", sid)] = [("pipeline", str(target), path, at, ctx)] if is_pipeline else []


def check_events(run: ValidationRun, path: Path, data: LinedMap) -> None:
    """Event mappings: event types, conditions, cooldowns; the pipeline is a reference."""
    seen: dict[tuple[str, str], int] = {}
    for line, _, raw in run.items(path, data, "mappings", LinedList):
        if not isinstance(raw, LinedMap):
            run.add(path, line, "mapping: expected event, pipeline, priority, condition, cooldown")
            continue
        key = (str(raw.get("event")), str(raw.get("pipeline")))
        ctx = f"mapping {key[0]} -> {key[1]}"
        if key in seen:
            run.add(path, line, f"duplicate {ctx} (first at line {seen[key]})")
        seen[key] = line
        data_ = {("cooldown_s" if k == "cooldown" else k): v for k, v in raw.items()}
        run.model(path, line, raw, EventMapping, ctx, data=data_, rename={"cooldown_s": "cooldown"})
        cond = raw.get("condition")
        if (isinstance(cond, LinedMap) and cond.get("op") not in (None, "exists")
                and "value" not in cond):
            run.add(path, cond.line, f"{ctx}: operator {cond['op']!r} needs a value to compare with")
        if isinstance(raw.get("pipeline"), str):
            run.refs[("mapping", str(key))] = [("pipeline", key[1], path, raw.lines["pipeline"], ctx)]


def check_skill(run: ValidationRun, folder: Path, names: dict[str, tuple[Path, int]], package: bool) -> None:
    """One SKILL.md: front matter fields, sections as headings, squad and downstream references."""
    path = folder / "SKILL.md"
    try:
        lines = read_bounded(path).splitlines()
    except ConfigurationError as exc:
        run.add(path, 0, str(exc).removeprefix(f"{path}: "))
        return
    # end: index of the closing '---'; 0 when it is missing, -1 when there is no front matter
    end = -1 if lines[:1] != ["---"] else next(
        (i for i in range(1, len(lines)) if lines[i] == "---"), 0)
    if end <= 0:
        problem = "front matter is not closed by a '---' line" if end == 0 else (
            "no front matter: a SKILL.md starts with a '---' block holding name and description")
        run.add(path, 1, problem)
        return
    ok, meta = run.parse(path, "\n".join(lines[1:end]), first_line=2)
    if not ok:
        return
    if not isinstance(meta, LinedMap):
        run.add(path, 1, "front matter must be a mapping")
        return
    body = "\n".join(lines[end + 1:])
    for key in OUR_FIELDS if package else OUR_FIELDS[:2]:  # dropped-in skills get defaults
        if meta.get(key) in (None, ""):
            run.add(path, 1, f"front matter is missing {key!r}")
    name = meta.get("name")
    if isinstance(name, str) and name in names:
        other = names[name]
        run.add(path, meta.lines["name"],
                f"duplicate skill name {name!r} (also in {other[0]}:{other[1]})")
    elif isinstance(name, str):
        names[name] = (path, meta.lines["name"])
    data = {"slug": folder.name, "name": folder.name, "description": "", "squad": UNASSIGNED,
            "instructions": body.strip(), "source": path,
            **{k: v for k, v in meta.items() if k in OUR_FIELDS and v is not None}}
    words = meta.get("min_words", 1)
    if isinstance(words, int) and not isinstance(words, bool) and words <= 0:
        run.add(path, meta.lines["min_words"], f"min_words must be positive, got {words}")
        data["min_words"] = 1  # reported once, here, not again by the model
    ctx = f"skill {folder.name!r}"
    run.model(path, 1, meta, SkillSpec, ctx, data=data)
    if not body.strip():
        run.add(path, end + 1, "no instructions after the front matter")
    headings = _HEADING.findall(body)
    sections = meta.get("sections", headings)
    if not sections:
        run.add(path, meta.lines.get("sections", 1),
                "no sections: list them under `sections:` or as '## ' headings in the body")
    for at, section in zip(*_lined(meta.get("sections")), strict=True):
        if section not in headings:
            run.add(path, at, f"section {section!r} has no '## {section}' heading in the body")
    downstream = meta.get("downstream")
    found = run.slugs(path, downstream, meta.lines["downstream"], ctx) if downstream else []
    run.skill_edges[folder.name] = [(s, path, at) for s, at in found]
    refs: list[Ref] = [("skill", s, path, at, ctx) for s, at in found]
    if isinstance(meta.get("squad"), str):
        refs.append(("squad", meta["squad"], path, meta.lines["squad"], ctx))
    run.refs[("skill", folder.name)] = refs  # an override replaces the package skill's references
    run.skills[folder.name] = (path, meta)
