"""One process's writers of a goal take turns from the newest state it knows; other processes'
writes are still caught by compare-and-set, and what the turns keep is bounded."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from marketing_team.director.launch import build_tasks
from marketing_team.domain.goal import Category, Goal, PhaseSpec, Plan, Priority, TaskStatus
from marketing_team.domain.values import new_id, utcnow
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goal_turns import KEPT, KEPT_CHARS, TURN_WAIT_S, GoalTurns
from marketing_team.store.goals import GoalStore
from marketing_team.testing.servers import RunningServer

MEMBERS = 20


def _phase_goal() -> Goal:
    skills = ("copywriting", "copy-editing", "email-sequence", "page-cro", "form-cro") * 4
    plan = Plan(phases=(PhaseSpec(name="1", skills=skills, parallel=True),), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description="Twenty at once", category=Category.CONTENT,
                priority=Priority.P1, plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, "x"))


@pytest.fixture
def store(redis_server: RunningServer, redis_client: redis.Redis) -> Iterator[GoalStore]:
    yield GoalStore(RedisConnection(redis_server.url), 3600)


def test_twenty_threads_recording_at_once_from_one_old_copy_each_compute_their_change_once(
        store: GoalStore) -> None:
    # Given a goal every member read before any of them wrote (as the gate reads it)
    goal = _phase_goal()
    store.create(goal)
    read = store.load(goal.id)
    runs: Counter[str] = Counter()
    start = threading.Barrier(MEMBERS)

    def record(task_id: str) -> None:
        def change(g: Goal) -> None:
            runs[task_id] += 1
            g.task(task_id).move(TaskStatus.IN_PROGRESS)
        start.wait()
        store.update(goal.id, change, read=read)

    # When all twenty members of the phase record at the same moment in one process
    threads = [threading.Thread(target=record, args=(t.id,)) for t in goal.tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every change landed, each computed once: none was refused and computed again
    assert all(t.status is TaskStatus.IN_PROGRESS for t in store.load(goal.id).tasks)
    assert sorted(runs.values()) == [1] * MEMBERS


def test_a_write_by_another_process_is_caught_and_the_change_made_again_on_it(
        store: GoalStore, redis_server: RunningServer) -> None:
    goal = _phase_goal()
    store.create(goal)
    first, second, third = (t.id for t in goal.tasks[:3])
    elsewhere = GoalStore(RedisConnection(redis_server.url), 3600)  # another process's store
    store.update(goal.id, lambda g: g.task(first).move(TaskStatus.IN_PROGRESS))
    elsewhere.update(goal.id, lambda g: g.task(second).move(TaskStatus.IN_PROGRESS))

    runs: list[str] = []

    def change(g: Goal) -> None:
        runs.append(g.task(second).status.value)
        g.task(third).move(TaskStatus.IN_PROGRESS)

    # This process last knew the goal before the other's write: its first try is refused
    store.update(goal.id, change)

    stored = store.load(goal.id)
    assert [stored.task(t).status for t in (first, second, third)] == [TaskStatus.IN_PROGRESS] * 3
    assert runs == ["pending", "in_progress"]
    # ... and a caller holding the other's newer state starts from it (computed once)
    again: list[str] = []
    latest = elsewhere.update(goal.id, lambda g: g.task(first).move(TaskStatus.COMPLETED))[0]
    store.update(goal.id, lambda g: again.append(g.task(first).status.value), read=latest)
    assert again == ["completed"]


def test_turns_keep_a_bounded_number_of_states_and_no_turn_nobody_holds() -> None:
    turns = GoalTurns()
    ids = [f"goal-20261130-{n:06x}" for n in range(KEPT + 10)]  # distinct (random ones can repeat)
    for goal_id in ids:
        with turns.turn(goal_id):
            turns.wrote(goal_id, "{}", utcnow())

    assert turns.last(ids[0]) is None and turns.last(ids[-1]) is not None
    assert sum(turns.last(goal_id) is not None for goal_id in ids) == KEPT
    assert turns.held() == 0


def test_a_forked_child_does_not_inherit_a_turn_another_thread_held() -> None:
    turns = GoalTurns()
    goal_id = new_id("goal")
    holder, release = _holding(turns, goal_id)
    try:
        pid = os.fork()
        if pid == 0:  # the child: the holder thread does not exist here
            started = time.monotonic()
            with turns.turn(goal_id):
                pass
            os._exit(0 if time.monotonic() - started < TURN_WAIT_S / 2 else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0


class _Interrupted(Exception):
    """What Celery's soft time limit (or Ctrl-C) raises in a task's thread at any point."""


def _holding(turns: GoalTurns, goal_id: str) -> tuple[threading.Thread, threading.Event]:
    """Another thread that holds the goal's turn until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turns.turn(goal_id):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    return holder, release


def test_a_writer_interrupted_while_it_waits_for_the_turn_leaves_no_turn_behind() -> None:
    # Given a goal whose turn another thread holds
    turns = GoalTurns()
    goal_id = new_id("goal")
    holder, release = _holding(turns, goal_id)

    # When a writer waiting for it is interrupted by a signal (as a soft time limit raises)
    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, TURN_WAIT_S / 10)
    try:
        with pytest.raises(_Interrupted), turns.turn(goal_id):
            pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
        holder.join()

    # Then once the holder is done, nobody holds or waits for the turn: it is not kept
    assert turns.held() == 0


def test_a_writer_interrupted_just_as_it_takes_the_turn_keeps_no_other_writer_waiting() -> None:
    # Given a writer interrupted right after its turn was taken, before it could use it: the
    # profile hook raises where a signal's handler would run after the lock's acquire returned
    turns = GoalTurns()
    goal_id = new_id("goal")

    def interrupt_after_acquire(frame: object, event: str, arg: object) -> None:
        if event == "c_return" and getattr(arg, "__name__", "") == "acquire":
            sys.setprofile(None)
            raise _Interrupted

    sys.setprofile(interrupt_after_acquire)
    try:
        with pytest.raises(_Interrupted), turns.turn(goal_id):
            pass
    finally:
        sys.setprofile(None)

    # When another thread of the process writes the goal
    waited: list[float] = []

    def write() -> None:
        started = time.monotonic()
        with turns.turn(goal_id):
            waited.append(time.monotonic() - started)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()

    # Then it takes the turn at once, not after giving up waiting for it
    assert waited[0] < TURN_WAIT_S / 2
    assert turns.held() == 0


def test_a_child_forked_while_its_own_thread_holds_a_turn_ends_that_turn_cleanly() -> None:
    # Given a thread that forks while it holds a goal's turn (the child starts with no turns)
    turns = GoalTurns()
    holding = turns.turn(new_id("goal"))
    holding.__enter__()
    pid = os.fork()
    if pid == 0:  # the child: leaving the turn it inherited is no error and keeps none
        code = 1
        try:
            holding.__exit__(None, None, None)
            code = 0 if turns.held() == 0 else 2
        finally:
            os._exit(code)
    holding.__exit__(None, None, None)

    # Then the child left its turn as the parent did
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert turns.held() == 0


def test_a_state_found_old_by_a_change_that_writes_nothing_is_not_started_from_again(
        store: GoalStore, redis_server: RunningServer) -> None:
    # Given a goal this process wrote, then another process changed
    goal = _phase_goal()
    store.create(goal)
    store.update(goal.id, lambda g: g.task(goal.tasks[0].id).move(TaskStatus.IN_PROGRESS))
    elsewhere = GoalStore(RedisConnection(redis_server.url), 3600)  # another process's store
    elsewhere.update(goal.id, lambda g: g.task(goal.tasks[1].id).move(TaskStatus.IN_PROGRESS))
    seen: list[str] = []

    def look(g: Goal) -> None:  # a check that changes nothing (a chord join finding no move)
        seen.append(g.task(goal.tasks[1].id).status.value)

    # When two such checks run, the first finds what this process knew to be old
    store.update(goal.id, look)
    store.update(goal.id, look)

    # Then only the first was computed on the old state: the second starts from the stored one
    assert seen == ["pending", "in_progress", "in_progress"]


def test_turns_keep_states_of_a_bounded_size_however_large_the_goals() -> None:
    turns = GoalTurns()
    big = "x" * (KEPT_CHARS // 10)
    ids = [new_id("goal") for _ in range(25)]
    for goal_id in ids:
        turns.wrote(goal_id, big, utcnow())
    turns.wrote(ids[-1], "{}", utcnow())  # a goal written again counts once, at its new size

    assert turns.kept_chars() <= KEPT_CHARS
    assert turns.last(ids[0]) is None and turns.last(ids[-1]) is not None
    assert turns.kept_chars() == sum(len(k.raw) for g in ids if (k := turns.last(g)) is not None)
