"""Goal state in Redis: one JSON document per goal, changed by compare-and-set, with sorted indexes.

A change is a pure function of the goal; `update` runs it and writes the result with a
compare-and-set script, computing again from the stored state on a conflict, so two workers on two
machines never lose each other's writes (one process's own writers take turns: `goal_turns`).
Side effects that must happen exactly once with a state transition (a review item, a learning)
are staged by the caller and committed by the same script. Settled goals expire after the retention period; their exported
folder is the archive.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis
from pydantic import ValidationError

from marketing_team.domain.errors import (
    AlreadyExistsError,
    CorruptStateError,
    LockTimeoutError,
    NotFoundError,
)
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.domain.values import check_id, is_id, new_id, utcnow
from marketing_team.store.batch import Batch
from marketing_team.store.compare_and_write import CompareAndWrite, back_off, encoded
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goal_turns import GoalTurns

log = logging.getLogger(__name__)
R = TypeVar("R")
INDEX = "mt:goals:index"  # every goal we keep: created (ms) -> id
ACTIVE_TASKS = "mt:tasks:active"  # task status -> how many tasks of unsettled goals have it
EXPIRING = "mt:goals:expiring"  # settled goals: when their keys expire (s) -> id
TOUCHED = "mt:goals:touched"  # running goals: when their state last changed (s) -> id
MAX_ATTEMPTS = 200  # compare-and-set tries before giving up (a transient fault: the task retries)
SWEEP_BATCH = 20


def state_key(goal_id: str) -> str:
    """The goal's state document."""
    return f"mt:goal:{check_id(goal_id, 'goal id')}:state"


def docs_key(goal_id: str) -> str:
    """The hash of the goal's documents (deliverables, reviews)."""
    return f"mt:goal:{check_id(goal_id, 'goal id')}:docs"


def status_key(status: GoalStatus) -> str:
    """The index of goals with one status."""
    return f"mt:goals:status:{status.value}"


class Staged(Protocol):
    """A write that commits with a goal's state transition, in the same MULTI."""

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """Queue the write's commands on the transaction."""
        ...


@dataclass(frozen=True)
class Unreadable:
    """A goal whose stored state cannot be parsed: listed with the reason, never fatal to a list."""

    id: str
    reason: str


def _unchanged(goal: Goal, raw: bytes | str | None) -> bool:
    """True when goal serialises to exactly what was read (the change changed nothing)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    return text == goal.model_dump_json()


def _decode(goal_id: str, raw: bytes | str | None) -> Goal:
    if raw is None:
        raise NotFoundError(f"unknown goal {goal_id}")
    try:
        return Goal.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise CorruptStateError(f"{state_key(goal_id)}: {loc + ': ' if loc else ''}"
                                f"{first.get('msg')}") from None


def _active_tasks(goal: Goal) -> Counter[str]:
    """The goal's tasks by status while it is under way; nothing once it settled."""
    if goal.status.is_settled:
        return Counter()
    return Counter(task.status.value for task in goal.tasks)


def _count_tasks(pipe: redis.client.Pipeline, before: Counter[str], after: Counter[str]) -> None:
    """Move the active-task counters by the difference a change made (in its transaction)."""
    for status in set(before) | set(after):
        delta = after[status] - before[status]
        if delta:
            pipe.hincrby(ACTIVE_TASKS, status, delta)


class GoalStore:
    """Create, load, change and list goals; every change is a compare-and-set."""

    def __init__(self, connection: RedisConnection, retention_s: int) -> None:
        self.connection = connection
        self.retention_s = retention_s
        self._turns = GoalTurns()

    @functools.cached_property
    def _cas(self) -> CompareAndWrite:
        return CompareAndWrite(self.client)

    @property
    def client(self) -> redis.Redis:
        """The client on the team's server."""
        return self.connection.client

    def exists(self, goal_id: str) -> bool:
        """True when the goal is stored."""
        return bool(self.client.exists(state_key(goal_id)))

    def load(self, goal_id: str) -> Goal:
        """Read a goal; NotFoundError when unknown, CorruptStateError naming the key when broken."""
        return _decode(goal_id, self.client.get(state_key(goal_id)))

    def load_with(self, goal_id: str, also: Callable[[redis.client.Pipeline], None]) -> tuple[Goal, list[Any]]:
        """A goal and what `also` queues on the same pipeline, in one round trip (not atomic)."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.get(state_key(goal_id))
            also(pipe)
            raw, *rest = pipe.execute()
        return _decode(goal_id, raw), rest

    def find(self, goal_id: str) -> Goal | None:
        """A goal, or None when unknown (one round trip, where exists() then load() take two)."""
        raw = self.client.get(state_key(goal_id))
        return None if raw is None else _decode(goal_id, raw)

    def create(self, goal: Goal) -> None:
        """Store a new goal and index it (AlreadyExistsError when the id is taken).

        One script, so a crash never leaves a goal its indexes do not know (or the reverse): the
        compare-and-set of a change, expecting no goal at all. The scan for expired goals rides
        in the same round trip.
        """
        goal.updated_at = utcnow()
        created = int(goal.created_at.timestamp() * 1000)
        key = state_key(goal.id)
        raw = goal.model_dump_json()
        recorder = self.client.pipeline(transaction=False)  # records commands; never executed
        recorder.set(key, raw)
        recorder.zadd(INDEX, {goal.id: created})
        recorder.zadd(status_key(goal.status), {goal.id: created})
        if goal.status is GoalStatus.RUNNING:
            recorder.zadd(TOUCHED, {goal.id: goal.updated_at.timestamp()})
        if goal.status.expires:  # imported already finished (`mtctl migrate`)
            self._expire(recorder, goal.id)
        _count_tasks(recorder, Counter(), _active_tasks(goal))
        batch = Batch(self.client)
        index = batch.script(self._cas.script, [key], CompareAndWrite.args(None, recorder))
        self._queue_due(batch.pipe)
        # In the goal's turn: a thread of this process that starts the goal the moment it exists
        # (a second handler of the same event) must not have its newer state replaced by this one.
        with self._turns.turn(goal.id):
            answers = batch.execute()
            written, _ = CompareAndWrite.outcome(answers[index])
            if written:
                self._turns.wrote(goal.id, raw, goal.updated_at)  # its start reads nothing back
        if not written:
            raise AlreadyExistsError(f"goal {goal.id} already exists")
        self._drop(answers[index + 1])

    def fresh_id(self) -> str:
        """A new goal id no stored goal has: an id is 24 random bits a day (`goal-YYYYMMDD-<6 hex>`),
        and a day of 1,000 goals draws a taken one about once a month."""
        while True:
            candidate = new_id("goal")
            if not self.client.exists(state_key(candidate)):
                return candidate

    def update(self, goal_id: str, change: Callable[[Goal], R],
               effects: Callable[[Goal, R], Iterable[Staged]] | None = None,
               watch: Sequence[str] = (), read: Goal | None = None) -> tuple[Goal, R]:
        """Apply change under compare-and-set (retried on conflict) with its staged side effects.

        change must be a pure function of the goal it is given: on a conflict it runs again on
        the newer state. effects(goal, result) are committed in the same transaction; `watch`
        names other keys whose change must also restart the attempt. `read` is the goal as the
        caller last read it: the first attempt starts from it instead of reading again (if the
        goal moved on meanwhile, the write is refused and the attempt repeats on the stored state).
        """
        if watch:
            return self._update_watching(goal_id, change, effects, watch)
        with self._turns.turn(goal_id):  # this process's writers of the goal take turns
            return self._update(goal_id, change, effects, read)

    def _update(self, goal_id: str, change: Callable[[Goal], R],
                effects: Callable[[Goal, R], Iterable[Staged]] | None,
                read: Goal | None) -> tuple[Goal, R]:
        key = state_key(goal_id)
        raw = self._start(goal_id, read)
        copied = raw is not None  # a copy may be old: its refusal is no conflict
        if raw is None:
            raw = self.client.get(key)
        conflicts = 0
        for attempt in range(MAX_ATTEMPTS):
            goal = _decode(goal_id, raw)
            before, tasks_before = goal.status, _active_tasks(goal)
            result = change(goal)
            staged = list(effects(goal, result)) if effects is not None else []
            if not staged and _unchanged(goal, raw):
                if copied and attempt == 0:
                    # Nothing to write, but the copy may be old: the answer must come from the
                    # stored state, so compare it once (cheap: one round trip).
                    stored = self.client.get(key)
                    if stored is None or stored != encoded(raw):
                        self._turns.forget(goal_id)  # what this process knew is old, as a refusal says
                        raw = stored
                        continue
                return goal, result  # no transition: no write, no touch, no retention restart
            goal.updated_at = utcnow()
            written_raw = goal.model_dump_json()
            recorder = self.client.pipeline(transaction=False)  # records commands; never executed
            recorder.set(key, written_raw)
            _count_tasks(recorder, tasks_before, _active_tasks(goal))
            for write in staged:
                write.stage(recorder)
            # After the staged writes: a document they create expires with a settled goal too.
            self._reindex(recorder, goal, before)
            written, current = self._cas(key, raw, recorder)
            if written:
                self._turns.wrote(goal_id, written_raw, goal.updated_at)
                return goal, result
            self._turns.forget(goal_id)
            raw = current  # decode raises NotFound if the goal is gone
            if attempt or not copied:  # an old copy is no conflict: try again at once
                conflicts += 1
                back_off(conflicts)
        raise LockTimeoutError(f"goal {goal_id} kept changing: no update after {MAX_ATTEMPTS} tries")

    def _start(self, goal_id: str, read: Goal | None) -> bytes | str | None:
        """The state a change starts from: the newer of the caller's copy and the one this process
        last wrote (None: neither, so read the stored one)."""
        known = self._turns.last(goal_id)
        if known is not None and (read is None or known.updated_at >= read.updated_at):
            return known.raw
        # The caller's copy is newer when another process changed the goal since this one did.
        return None if read is None else read.model_dump_json()

    def _update_watching(self, goal_id: str, change: Callable[[Goal], R],
                         effects: Callable[[Goal, R], Iterable[Staged]] | None,
                         watch: Sequence[str]) -> tuple[Goal, R]:
        """update() that also restarts when other keys change (WATCH/MULTI: three round trips)."""
        key = state_key(goal_id)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                back_off(attempt)
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key, *watch)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    goal = _decode(goal_id, raw)
                    before, tasks_before = goal.status, _active_tasks(goal)
                    result = change(goal)
                    staged = list(effects(goal, result)) if effects is not None else []
                    if not staged and _unchanged(goal, raw):
                        pipe.reset()
                        return goal, result
                    goal.updated_at = utcnow()
                    pipe.multi()
                    pipe.set(key, goal.model_dump_json())
                    _count_tasks(pipe, tasks_before, _active_tasks(goal))
                    for write in staged:
                        write.stage(pipe)
                    self._reindex(pipe, goal, before)
                    pipe.execute()
                    self._turns.forget(goal_id)  # written here without its turn: start afresh
                    return goal, result
                except redis.WatchError:
                    continue
        raise LockTimeoutError(f"goal {goal_id} kept changing: no update after {MAX_ATTEMPTS} tries")

    def _reindex(self, pipe: redis.client.Pipeline, goal: Goal, before: GoalStatus) -> None:
        created = int(goal.created_at.timestamp() * 1000)
        if goal.status is not before:
            pipe.zrem(status_key(before), goal.id)
            pipe.zadd(status_key(goal.status), {goal.id: created})
        if goal.status is GoalStatus.RUNNING:
            pipe.zadd(TOUCHED, {goal.id: goal.updated_at.timestamp()})
        else:  # only running goals can be stuck: parked and planned ones have their own checks
            pipe.zrem(TOUCHED, goal.id)
        if goal.status.expires:
            self._expire(pipe, goal.id)
        elif before.expires:
            for key in (state_key(goal.id), docs_key(goal.id)):
                pipe.persist(key)
            pipe.zrem(EXPIRING, goal.id)

    def _expire(self, pipe: redis.client.Pipeline, goal_id: str) -> None:
        """Keep the goal for the retention period after it last changed; the export is the archive."""
        for key in (state_key(goal_id), docs_key(goal_id)):
            pipe.expire(key, self.retention_s)
        pipe.zadd(EXPIRING, {goal_id: int(time.time()) + self.retention_s})

    def drop_expired(self) -> None:
        """Drop expired goals from the indexes (a batch per new goal and per sweep: bounded)."""
        with self.client.pipeline(transaction=False) as pipe:
            self._queue_due(pipe)
            (due,) = pipe.execute()
        self._drop(due)

    @staticmethod
    def _queue_due(pipe: redis.client.Pipeline) -> None:
        """Queue the read of the next batch of goals whose retention ran out."""
        pipe.zrangebyscore(EXPIRING, "-inf", int(time.time()), start=0, num=SWEEP_BATCH)

    def _drop(self, due: list[bytes]) -> None:
        if not due:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for raw in due:
                goal_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                pipe.zrem(INDEX, goal_id)
                for status in GoalStatus:
                    pipe.zrem(status_key(status), goal_id)
                pipe.zrem(EXPIRING, goal_id)
                pipe.zrem(TOUCHED, goal_id)
            pipe.execute()

    def ids(self, limit: int = 20, status: GoalStatus | None = None, offset: int = 0) -> list[str]:
        """Goal ids, newest first (one status, or all), read from the index."""
        key = INDEX if status is None else status_key(status)
        raw = self.client.zrevrange(key, offset, offset + limit - 1)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]

    def load_many(self, goal_ids: Sequence[str]) -> list[Goal | Unreadable]:
        """The goals in one round trip; a missing or broken one is Unreadable, never an error."""
        if not goal_ids:
            return []
        valid = [goal_id for goal_id in goal_ids if is_id(goal_id)]
        raws = dict(zip(valid, self.client.mget([state_key(g) for g in valid]) if valid else [],
                        strict=True))
        found: list[Goal | Unreadable] = []
        for goal_id in goal_ids:
            if goal_id not in raws:  # written into an index by hand: never a key to read
                found.append(Unreadable(goal_id, f"malformed goal id in an index: {goal_id!r}"))
                continue
            try:
                found.append(_decode(goal_id, raws[goal_id]))
            except (NotFoundError, CorruptStateError) as exc:
                found.append(Unreadable(goal_id, str(exc)))
        return found

    def recent(self, limit: int = 20, status: GoalStatus | None = None) -> list[Goal | Unreadable]:
        """The newest goals (one status, or all) with their state."""
        return self.load_many(self.ids(limit, status))

    def untouched_since(self, cutoff: float, limit: int = 100, offset: int = 0) -> list[str]:
        """Running goals whose state has not changed since cutoff (epoch s), oldest first."""
        raw = self.client.zrangebyscore(TOUCHED, "-inf", cutoff, start=offset, num=limit)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]

    def forget_touched(self, goal_id: str) -> None:
        """Drop a goal from the running goals' change times (it is not running any more)."""
        self.client.zrem(TOUCHED, goal_id)

    def created_before(self, status: GoalStatus, cutoff: float, limit: int = 100) -> list[str]:
        """Goals in one status created before cutoff (epoch s), oldest first."""
        raw = self.client.zrangebyscore(status_key(status), "-inf", int(cutoff * 1000), start=0, num=limit)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]

    def counts(self) -> dict[GoalStatus, int]:
        """How many goals are kept in each status (index sizes: constant time)."""
        with self.client.pipeline(transaction=False) as pipe:
            for status in GoalStatus:
                pipe.zcard(status_key(status))
            sizes = pipe.execute()
        return {status: int(size) for status, size in zip(GoalStatus, sizes, strict=True)}

    def active_task_counts(self) -> dict[str, int]:
        """How many tasks of goals still under way have each status (a counter: constant time)."""
        raw = self.client.hgetall(ACTIVE_TASKS)
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}

    def total(self) -> int:
        """How many goals are kept."""
        return int(self.client.zcard(INDEX))
