"""Import a workspace written by the file-based releases into Redis, once (`mtctl migrate`).

Those releases kept goal state in `goals/<id>/state.json`, deliverables and reviews beside it,
review items in `reviews/`, learnings in `memory/learnings.jsonl`, schedule state in
`state/schedules.json` and the product context in `context/product.md`. Running the import again
adds nothing twice: goals and items already stored are skipped, and learnings continue after the
last line imported (so an interrupted import picks up where it stopped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import CorruptFileError, InputError
from marketing_team.domain.goal import Goal
from marketing_team.domain.learning import Learning
from marketing_team.domain.review_item import ReviewItem
from marketing_team.domain.values import is_id
from marketing_team.store import frontmatter
from marketing_team.store.documents import check_name
from marketing_team.store.workspace import Workspace

LEARNINGS_MARK = "mt:migration:learnings"  # how many lines of the old learnings are imported
_PAGES = {"goal.md", "plan.md", "summary.md"}  # rendered from state by every export


@dataclass
class MigrationReport:
    """What one import did, counted, and what it could not read."""

    goals: int = 0
    goals_present: int = 0
    documents: int = 0
    learnings: int = 0
    review_items: int = 0
    schedules: int = 0
    context: bool = False
    problems: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # goals that were under way

    def lines(self) -> list[str]:
        """The report for people, one fact a line."""
        out = [f"goals imported: {self.goals} ({self.goals_present} already in Redis, skipped)",
               f"documents imported: {self.documents}", f"learnings imported: {self.learnings}",
               f"review items imported: {self.review_items}",
               f"schedules imported: {self.schedules}",
               "product context: " + ("imported" if self.context else "not imported (none, or "
                                      "Redis has one already)")]
        return (out + [f"skipped: {problem}" for problem in self.problems]
                + [f"goal {goal_id} was under way when the old release stopped: "
                   f"`mtctl goals resume {goal_id}` continues it" for goal_id in self.unfinished])


def _old_goal(path: Path) -> Goal:
    """A goal from an old state.json: deliverable paths become document names."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for task in data.get("tasks", []):
        old = task.pop("output_path", None)
        if old:
            task["output"] = Path(old).name
    return Goal.model_validate(data)


def _documents(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*.md")) + sorted(folder.glob("reviews/*.md")):
        name = path.relative_to(folder).as_posix()
        if name in _PAGES:
            continue
        found[check_name(name)] = path.read_text(encoding="utf-8")
    return found


def _import_goals(rt: Runtime, workspace: Workspace, report: MigrationReport) -> None:
    root = workspace.goals_dir
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        state = folder / "state.json"
        if not is_id(folder.name):
            continue
        if not state.is_file():
            report.problems.append(f"{folder}: no state.json (nothing to import)")
            continue
        try:
            goal = _old_goal(state)
            documents = _documents(folder)
        except (ValueError, ValidationError, InputError, UnicodeDecodeError) as exc:
            report.problems.append(f"{state}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            continue
        if rt.goals.exists(goal.id):
            report.goals_present += 1
            continue
        for name, text in documents.items():
            rt.documents.put(goal.id, name, text)
        report.documents += len(documents)
        rt.goals.create(goal)
        report.goals += 1
        if not goal.status.is_settled:
            report.unfinished.append(goal.id)


def _import_learnings(rt: Runtime, workspace: Workspace, report: MigrationReport) -> None:
    path = workspace.memory_dir / "learnings.jsonl"
    if not path.is_file():
        return
    done = int(rt.redis.get(LEARNINGS_MARK) or 0)
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if number <= done:
            continue
        try:
            line = raw.decode("utf-8")
            if line.strip():
                # oldest first: the newest ends on top
                rt.learnings.append(Learning.model_validate_json(line))
                report.learnings += 1
        except UnicodeDecodeError:
            report.problems.append(f"{path}:{number}: not UTF-8 text")
        except ValidationError:
            report.problems.append(f"{path}:{number}: not a learning")
        rt.redis.set(LEARNINGS_MARK, number)  # after the line: a crash repeats at most this one


def _import_items(rt: Runtime, workspace: Workspace, report: MigrationReport) -> None:
    root = workspace.reviews_dir
    for path in sorted(root.glob("review-*.md")) if root.is_dir() else []:
        try:
            meta, _ = frontmatter.read(path)
            if meta.get("deliverable"):
                meta["deliverable"] = Path(str(meta["deliverable"])).name
            item = ReviewItem.model_validate(meta)
        except (CorruptFileError, ValidationError) as exc:
            report.problems.append(f"{path}: {type(exc).__name__}")
            continue
        if rt.redis.exists(f"mt:review:{item.id}"):
            continue
        rt.reviews.save(item)
        report.review_items += 1


def _import_schedules(rt: Runtime, workspace: Workspace, report: MigrationReport) -> None:
    path = workspace.root / "state" / "schedules.json"
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        report.problems.append(f"{path}: not JSON")
        return
    for schedule_id, fields in saved.items() if isinstance(saved, dict) else []:
        key = f"mt:schedule:{schedule_id}"
        if rt.redis.exists(key) or not isinstance(fields, dict):
            continue
        values = {name: ("1" if value else "0") if isinstance(value, bool) else str(value)
                  for name, value in fields.items() if value is not None}
        if values:
            rt.redis.hset(key, mapping=values)
            report.schedules += 1


def migrate_workspace(rt: Runtime, root: Path) -> MigrationReport:
    """Import everything the old file layout under root holds that Redis does not hold yet."""
    workspace = Workspace(root.expanduser().resolve())
    if not workspace.root.is_dir():
        raise InputError(f"WORKSPACE_DIR {workspace.root} is not a directory")
    report = MigrationReport()
    _import_goals(rt, workspace, report)
    _import_learnings(rt, workspace, report)
    _import_items(rt, workspace, report)
    _import_schedules(rt, workspace, report)
    text = workspace.read_context_file()
    if text is not None and rt.context.record() is None:
        rt.context.set(text, str(workspace.context_file))
        report.context = True
    return report
