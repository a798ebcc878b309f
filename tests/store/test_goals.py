"""Goal state in Redis: compare-and-set loses no update across threads and processes; indexes; retention."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from marketing_team.director.launch import build_tasks
from marketing_team.domain.errors import CorruptStateError, InputError
from marketing_team.domain.goal import (
    Category,
    Goal,
    GoalStatus,
    PhaseSpec,
    Plan,
    Priority,
    TaskStatus,
)
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.domain.values import new_id
from marketing_team.store.connection import RedisConnection
from marketing_team.store.documents import DocumentStore
from marketing_team.store.goals import (
    EXPIRING,
    INDEX,
    TOUCHED,
    GoalStore,
    Staged,
    Unreadable,
    docs_key,
    state_key,
)
from marketing_team.store.learnings import LearningStore
from marketing_team.testing.servers import RunningServer

RETENTION_S = 3600


def _goal(text: str = "Grow") -> Goal:
    plan = Plan(phases=(PhaseSpec(name="1", skills=("copywriting",)),), source="routing")
    goal_id = new_id("goal")
    return Goal(id=goal_id, description=text, category=Category.CONTENT, priority=Priority.P1,
                plan=plan, tasks=build_tasks(goal_id, plan, Priority.P1, text))


@pytest.fixture
def store(redis_server: RunningServer, redis_client: redis.Redis) -> Iterator[GoalStore]:
    """A goal store on the session server, which starts empty."""
    yield GoalStore(RedisConnection(redis_server.url), RETENTION_S)


def _bump(url: str, goal_id: str, threads: int, times: int) -> None:
    store = GoalStore(RedisConnection(url), RETENTION_S)

    def work() -> None:
        for _ in range(times):
            store.update(goal_id, lambda g: setattr(g, "consecutive_failures", g.consecutive_failures + 1))

    running = [threading.Thread(target=work) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()


def test_cas_8_threads_in_2_processes_50_updates_each_lose_none(store: GoalStore,
                                                                redis_server: RunningServer) -> None:
    goal = _goal()
    store.create(goal)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_bump, args=(redis_server.url, goal.id, 8, 50)) for _ in range(2)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(120)
    assert [proc.exitcode for proc in workers] == [0, 0]
    assert store.load(goal.id).consecutive_failures == 2 * 8 * 50


def test_staged_effects_commit_once_with_the_transition_that_caused_them(
        store: GoalStore, redis_server: RunningServer) -> None:
    learnings = LearningStore(RedisConnection(redis_server.url))
    goal = _goal()
    store.create(goal)

    def change(g: Goal) -> bool:
        if g.status is GoalStatus.RUNNING:
            return False  # already moved: nothing new happened, nothing to record
        g.status = GoalStatus.RUNNING
        return True

    def effects(g: Goal, moved: bool) -> list[Staged]:
        return [learnings.staged(Learning(skill="director", goal_id=g.id, outcome=Outcome.SUCCESS,
                                          lesson="started"))] if moved else []

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.update(goal.id, change, effects)[1]))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 5 + [True]
    assert [item.lesson for item in learnings.recent()] == ["started"]


def test_index_lists_newest_first_and_by_status_as_status_changes(store: GoalStore) -> None:
    first, second = _goal("one"), _goal("two")
    store.create(first)
    second.created_at = first.created_at.replace(microsecond=0).replace(year=first.created_at.year + 1)
    store.create(second)
    store.update(first.id, lambda g: setattr(g, "status", GoalStatus.RUNNING))

    assert store.ids() == [second.id, first.id]
    assert store.ids(status=GoalStatus.RUNNING) == [first.id]
    assert store.ids(status=GoalStatus.PLANNED) == [second.id]
    assert store.counts()[GoalStatus.RUNNING] == 1 and store.total() == 2


def test_a_corrupt_goal_is_named_and_never_breaks_the_list(store: GoalStore,
                                                           redis_client: redis.Redis) -> None:
    good, bad = _goal("good"), _goal("bad")
    store.create(good)
    store.create(bad)
    redis_client.set(state_key(bad.id), '{"id": 3}')

    with pytest.raises(CorruptStateError, match=state_key(bad.id)):
        store.load(bad.id)
    listed = store.recent()
    assert {g.id for g in listed} == {good.id, bad.id}
    assert [g.id for g in listed if isinstance(g, Unreadable)] == [bad.id]


def test_creating_a_goal_twice_is_refused(store: GoalStore) -> None:
    goal = _goal()
    store.create(goal)
    with pytest.raises(InputError, match="already exists"):
        store.create(goal)


def test_a_settled_goal_expires_after_the_retention_and_a_resumed_one_does_not(
        store: GoalStore, redis_client: redis.Redis) -> None:
    goal = _goal()
    store.create(goal)
    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.COMPLETED))
    assert 0 < redis_client.ttl(state_key(goal.id)) <= RETENTION_S
    assert redis_client.zscore(EXPIRING, goal.id) is not None

    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.RUNNING))
    assert redis_client.ttl(state_key(goal.id)) == -1
    assert redis_client.zscore(EXPIRING, goal.id) is None


def test_expired_goals_leave_the_indexes_as_new_goals_arrive(store: GoalStore,
                                                             redis_client: redis.Redis) -> None:
    old = _goal("old")
    store.create(old)
    store.update(old.id, lambda g: setattr(g, "status", GoalStatus.COMPLETED))
    # Its keys expired (as Redis would after the retention) and its expiry time has passed.
    redis_client.delete(state_key(old.id))
    redis_client.zadd(EXPIRING, {old.id: int(time.time()) - 1})

    store.create(_goal("new"))

    assert old.id not in store.ids(limit=100)
    assert redis_client.zscore(INDEX, old.id) is None
    assert store.counts()[GoalStatus.COMPLETED] == 0


def test_active_task_counters_follow_every_change_and_drop_settled_goals(store: GoalStore) -> None:
    goal = _goal()
    store.create(goal)
    assert store.active_task_counts() == {"pending": 1}

    def start(g: Goal) -> None:
        g.tasks[0].move(TaskStatus.IN_PROGRESS)

    store.update(goal.id, start)
    assert store.active_task_counts() == {"pending": 0, "in_progress": 1}

    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.COMPLETED))
    assert store.active_task_counts() == {"pending": 0, "in_progress": 0}
    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.RUNNING))  # resumed: counted again
    assert store.active_task_counts()["in_progress"] == 1


def test_an_update_that_changes_nothing_writes_nothing(store: GoalStore, redis_client: redis.Redis) -> None:
    goal = _goal()
    store.create(goal)
    stored = redis_client.get(state_key(goal.id))
    touched = redis_client.zscore(TOUCHED, goal.id)

    # A repeated join, or a stale copy's check: it reads the goal and leaves it as it was
    after, result = store.update(goal.id, lambda g: g.status is GoalStatus.PLANNED)

    assert result is True and after.updated_at == goal.updated_at
    assert redis_client.get(state_key(goal.id)) == stored  # not even its updated_at moved
    assert redis_client.zscore(TOUCHED, goal.id) == touched  # so the sweeper sees no progress


def test_a_goal_waiting_for_a_person_never_expires(store: GoalStore, redis_client: redis.Redis) -> None:
    goal = _goal()
    store.create(goal)

    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.WAITING_HUMAN))

    # A person owes it a decision: it must still be there when they come back from holiday
    assert redis_client.ttl(state_key(goal.id)) == -1
    assert redis_client.zscore(EXPIRING, goal.id) is None


def test_a_goal_stored_already_settled_expires_like_one_that_settled_here(
        store: GoalStore, redis_client: redis.Redis) -> None:
    imported = _goal()
    imported.status = GoalStatus.COMPLETED  # as `mtctl migrate` stores an old finished goal

    store.create(imported)

    assert 0 < redis_client.ttl(state_key(imported.id)) <= RETENTION_S
    assert redis_client.zscore(EXPIRING, imported.id) is not None


def test_a_malformed_id_in_the_index_is_listed_as_unreadable(store: GoalStore,
                                                             redis_client: redis.Redis) -> None:
    good = _goal()
    store.create(good)
    redis_client.zadd(INDEX, {"../../etc": 1})

    listed = store.recent()

    assert [g.id for g in listed if isinstance(g, Goal)] == [good.id]
    assert [g.id for g in listed if isinstance(g, Unreadable)] == ["../../etc"]


def _calls(client: redis.Redis) -> dict[str, int]:
    """How often the server ran each command so far (INFO commandstats; a script's calls count)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def test_an_update_from_an_old_copy_applies_to_the_stored_state(store: GoalStore) -> None:
    # Given a copy read before another worker changed the goal
    goal = _goal()
    store.create(goal)
    old = store.load(goal.id)
    store.update(goal.id, lambda g: setattr(g, "consecutive_failures", 5))

    # When a change starts from the old copy
    seen, _ = store.update(goal.id, lambda g: setattr(g, "republished", g.consecutive_failures),
                           read=old)

    # Then it was computed from the stored state, and the other worker's change is kept
    stored = store.load(goal.id)
    assert (stored.consecutive_failures, stored.republished) == (5, 5)
    assert seen == stored


def test_an_unchanged_answer_from_an_old_copy_comes_from_the_stored_state(store: GoalStore) -> None:
    goal = _goal()
    store.create(goal)
    old = store.load(goal.id)
    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.RUNNING))

    _, status = store.update(goal.id, lambda g: g.status, read=old)  # writes nothing

    assert status is GoalStatus.RUNNING


def test_a_change_from_a_fresh_copy_is_one_round_trip_with_its_staged_effects(
        store: GoalStore, redis_server: RunningServer, redis_client: redis.Redis) -> None:
    # Given a goal just read, and a learning to commit with its change
    learnings = LearningStore(RedisConnection(redis_server.url))
    goal = _goal()
    store.create(goal)
    fresh = store.load(goal.id)
    staged = learnings.staged(Learning(skill="director", goal_id=goal.id, outcome=Outcome.SUCCESS,
                                       lesson="ran"))
    store.update(goal.id, lambda g: None)  # the script is loaded on the server already
    fresh = store.load(goal.id)
    before = _calls(redis_client)

    # When the change is applied from that copy
    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.RUNNING), lambda g, _: [staged],
                 read=fresh)

    # Then the client sent one script (its GET is the script's own read), no WATCH or MULTI,
    # and the state and the effect both landed
    after = _calls(redis_client)
    ran = {name: after.get(name, 0) - before.get(name, 0)
           for name in ("evalsha", "get", "watch", "multi", "exec")}
    assert ran == {"evalsha": 1, "get": 1, "watch": 0, "multi": 0, "exec": 0}
    assert store.load(goal.id).status is GoalStatus.RUNNING
    assert [item.lesson for item in learnings.recent()] == ["ran"]


def test_a_write_that_fails_in_a_change_leaves_the_others_applied_and_is_reported(
        store: GoalStore, redis_server: RunningServer, redis_client: redis.Redis) -> None:
    # Given a learning list someone overwrote with a string (a key of the wrong type)
    learnings = LearningStore(RedisConnection(redis_server.url))
    goal = _goal()
    store.create(goal)
    staged = learnings.staged(Learning(skill="director", goal_id=goal.id, outcome=Outcome.SUCCESS,
                                       lesson="ran", category=Category.CONTENT))
    redis_client.set("mt:learnings:recent", "not a list")  # written between skill and category

    # When a change stages writes to it and to good keys, the error is raised...
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.RUNNING), lambda g, _: [staged])

    # ...after the state and every other write were applied, as MULTI/EXEC would have
    assert store.load(goal.id).status is GoalStatus.RUNNING
    assert [item.lesson for item in learnings.for_skill("director", limit=5)] == ["ran"]
    assert [item.lesson for item in learnings.for_category(Category.CONTENT, limit=5)] == ["ran"]


@pytest.mark.parametrize("watching", [False, True], ids=["compare-and-write", "watch-multi"])
def test_a_first_document_written_after_the_goal_settled_expires_with_it(
        store: GoalStore, redis_server: RunningServer, redis_client: redis.Redis,
        watching: bool) -> None:
    # Given a goal interrupted (Ctrl-C) while its first step's call was still running
    documents = DocumentStore(RedisConnection(redis_server.url))
    goal = _goal()
    store.create(goal)
    store.update(goal.id, lambda g: setattr(g, "status", GoalStatus.INTERRUPTED))
    assert redis_client.exists(docs_key(goal.id)) == 0

    # When that call finishes and its draft, the goal's first document, is recorded
    store.update(goal.id, lambda g: setattr(g.tasks[0], "output", "01-copywriting.md"),
                 lambda g, _: [documents.staged(g.id, "01-copywriting.md", "# Draft\n")],
                 watch=("mt:unrelated",) if watching else ())

    # Then the document expires with the goal's state: nothing of it outlives the retention
    assert 0 < redis_client.ttl(docs_key(goal.id)) <= RETENTION_S
    assert 0 < redis_client.ttl(state_key(goal.id)) <= RETENTION_S


def test_creating_a_goal_is_one_round_trip_with_its_indexes(store: GoalStore, redis_client: redis.Redis,
                                                            round_trips: list[bytes]) -> None:
    store.create(_goal("first"))  # loads the script on the server
    goal = _goal()
    round_trips.clear()

    store.create(goal)

    assert len(round_trips) == 1
    assert store.load(goal.id).description == goal.description
    assert goal.id in store.ids(limit=10) and goal.id in store.ids(limit=10, status=GoalStatus.PLANNED)
