"""Domain: ids as specified and a task status machine that rejects every illegal move."""

from __future__ import annotations

import itertools
import re

import pytest

from marketing_team.domain.errors import IllegalTransitionError, InputError
from marketing_team.domain.goal import TaskRecord, TaskStatus, check_task_move
from marketing_team.domain.values import check_id, new_id

T = TaskStatus
LEGAL = {
    (T.PENDING, T.IN_PROGRESS), (T.PENDING, T.DEFERRED), (T.DEFERRED, T.PENDING),
    (T.IN_PROGRESS, T.COMPLETED), (T.COMPLETED, T.APPROVED), (T.COMPLETED, T.REVISION),
    (T.COMPLETED, T.FAILED), (T.COMPLETED, T.BLOCKED), (T.REVISION, T.IN_PROGRESS),
    (T.BLOCKED, T.APPROVED), (T.BLOCKED, T.REVISION),
}
NON_TERMINAL = [s for s in TaskStatus if not s.is_terminal]
LEGAL |= {(s, T.FAILED) for s in NON_TERMINAL} | {(s, T.CANCELLED) for s in NON_TERMINAL}


@pytest.mark.parametrize("current, new", list(itertools.product(TaskStatus, TaskStatus)))
def test_task_status_machine_allows_exactly_the_specified_moves(current: TaskStatus, new: TaskStatus) -> None:
    if (current, new) in LEGAL:
        check_task_move(current, new)
    else:
        with pytest.raises(IllegalTransitionError):
            check_task_move(current, new)


def test_task_move_changes_status_only_when_legal() -> None:
    task = TaskRecord(id=new_id("copywriting"), goal_id=new_id("goal"), phase_index=0,
                      skill="copywriting", priority="P1")
    task.move(T.IN_PROGRESS)
    with pytest.raises(IllegalTransitionError):
        task.move(T.APPROVED)
    assert task.status is T.IN_PROGRESS


def test_ids_have_the_specified_shape() -> None:
    assert re.fullmatch(r"goal-\d{8}-[0-9a-f]{6}", new_id("goal"))
    assert re.fullmatch(r"email-sequence-\d{8}-[0-9a-f]{6}", new_id("email-sequence"))


@pytest.mark.parametrize("bad", ["../goal-20260101-abcdef", "goal-20260101-abcdef/..", "goal", "", "a/b"])
def test_ids_that_could_escape_the_workspace_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        check_id(bad)
