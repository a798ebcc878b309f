"""Workspace: hostile markdown round-trips, corrupt files are named, concurrent writers never corrupt."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketing_team.director.launch import build_tasks
from marketing_team.domain.errors import CorruptFileError
from marketing_team.domain.goal import Category, Goal, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.store import frontmatter
from marketing_team.store.goals import GoalStore
from marketing_team.store.workspace import Workspace, atomic_write

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


def test_goal_store_corrupt_goal_file_is_a_typed_error_naming_it(tmp_path: Path) -> None:
    store = GoalStore(Workspace(tmp_path))
    goal = _goal()
    store.create(goal)
    store.path(goal.id).write_text('{"id": 3}')
    with pytest.raises(CorruptFileError, match="state.json"):
        store.load(goal.id)


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.md"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two" and [p.name for p in target.parent.iterdir()] == ["b.md"]


def _goal() -> Goal:
    plan = Plan(phases=(PhaseSpec(name="1", skills=("copywriting",)),), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Grow", category=Category.CONTENT, priority=Priority.P1,
                plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, "Grow"))


def _bump(root: str, goal_id: str, times: int) -> None:
    store = GoalStore(Workspace(Path(root)))
    for _ in range(times):
        store.update(goal_id, lambda g: setattr(g, "consecutive_failures", g.consecutive_failures + 1))


def test_goal_store_two_processes_updating_one_goal_lose_no_update(tmp_path: Path) -> None:
    store = GoalStore(Workspace(tmp_path))
    goal = _goal()
    store.create(goal)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_bump, args=(str(tmp_path), goal.id, 50)) for _ in range(2)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(60)
    assert [p.exitcode for p in workers] == [0, 0]
    assert store.load(goal.id).consecutive_failures == 100
