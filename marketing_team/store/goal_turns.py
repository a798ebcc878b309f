"""Each goal's writers in one process take turns, starting from the newest state the process knows.

The members of a parallel phase record their drafts and reviews within milliseconds of each other,
on one worker's threads. Each computed its change from the state it had read; compare-and-set
refused all but the first, and each computed again from the state the refusal returned: twenty
members made ~180 refused writes for 61 that landed, each a decode, a change and an encode of the
whole goal on the one GIL. Here a writer waits for the goal's turn and starts from the state the
last writer in this process left (or the newer one its caller read), so threads of one process no
longer collide. Writers in other processes still can, and compare-and-set still decides: the turn
is an optimisation, bounded in time and in memory.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

TURN_WAIT_S = 2.0  # past this a writer goes ahead without its turn (compare-and-set still decides)
# Goals whose last state is kept, and their characters in all (a 100-task goal is ~350 KB): the
# least recently written are forgotten first, past either bound.
KEPT = 256
KEPT_CHARS = 16_000_000


@dataclass(frozen=True)
class Known:
    """A goal's state as this process wrote it, and when (its `updated_at`)."""

    raw: str
    updated_at: datetime


class _Turn:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.waiting = 0  # threads holding or waiting for it (the turn is dropped at none)


class GoalTurns:
    """The turn of each goal's writers, and the last state each goal was written with here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[str, Known] = OrderedDict()
        self._chars = 0  # the kept states' characters in all
        self._turns: dict[str, _Turn] = {}
        _EVERY.add(self)

    def _after_fork(self) -> None:
        # A forked child (a prefork pool process) has none of the parent's other threads: a turn
        # or lock one of them held at the fork would stay taken in the child for good.
        self._lock = threading.Lock()
        self._turns = {}

    @contextmanager
    def turn(self, goal_id: str) -> Iterator[None]:
        """Hold the goal's turn (re-entrant; given up waiting after TURN_WAIT_S)."""
        with self._lock:
            turn = self._turns.setdefault(goal_id, _Turn())
            turn.waiting += 1
        # The wait is inside the try: an exception raised in this thread at any point (a soft
        # time limit, Ctrl-C) still counts the writer out, so the turn is dropped when nobody is
        # left, even one whose lock was taken just before the exception (others then start anew).
        taken = False
        try:
            taken = turn.lock.acquire(timeout=TURN_WAIT_S)
            yield
        finally:
            if taken:
                turn.lock.release()
            with self._lock:
                turn.waiting -= 1
                if not turn.waiting and self._turns.get(goal_id) is turn:  # not one reset by a fork
                    del self._turns[goal_id]

    def held(self) -> int:
        """How many goals' turns are held or waited for now (none are kept beyond that)."""
        with self._lock:
            return len(self._turns)

    def last(self, goal_id: str) -> Known | None:
        """The goal's state as this process last wrote it (None: not known, or refused since)."""
        with self._lock:
            return self._known.get(goal_id)

    def wrote(self, goal_id: str, raw: str, updated_at: datetime) -> None:
        """Remember the state a write of this process stored."""
        with self._lock:
            self._drop(goal_id)
            self._known[goal_id] = Known(raw, updated_at)
            self._chars += len(raw)
            while len(self._known) > KEPT or self._chars > KEPT_CHARS:
                self._drop(next(iter(self._known)))

    def forget(self, goal_id: str) -> None:
        """Another process wrote the goal since: what this one knows is old."""
        with self._lock:
            self._drop(goal_id)

    def kept_chars(self) -> int:
        """The characters of every state kept (bounded by KEPT_CHARS)."""
        with self._lock:
            return self._chars

    def _drop(self, goal_id: str) -> None:
        known = self._known.pop(goal_id, None)
        if known is not None:
            self._chars -= len(known.raw)


_EVERY: weakref.WeakSet[GoalTurns] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for turns in list(_EVERY):
        turns._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
