"""Publications a goal transition owes: written in the transaction that claims a phase.

The change that claims a goal's next phase (`dispatched_phase`) cannot publish it in the same
transaction: publishing goes to the broker after the commit. A process that dies in between would
leave the goal `running` with nothing queued. So the claim also records the publication it owes
here (a transactional outbox); the publisher crosses it off once the phase is out, and the
sweeper publishes whatever is still owed after a grace period.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis

from marketing_team.domain.values import is_id
from marketing_team.store.connection import RedisConnection
from marketing_team.store.goals import Staged

log = logging.getLogger(__name__)
OUTBOX = "mt:outbox"  # "goal:run:phase" -> when it is overdue (epoch s)


@dataclass(frozen=True)
class Publication:
    """One phase of one run of a goal, claimed and owed to the broker."""

    goal_id: str
    run: int
    phase: int

    def member(self) -> str:
        """Its entry in the outbox."""
        return f"{self.goal_id}:{self.run}:{self.phase}"

    @classmethod
    def parse(cls, member: str) -> Publication | None:
        """The publication an entry names, or None for an entry that is not one."""
        goal_id, _, rest = member.partition(":")
        run, _, phase = rest.partition(":")
        if not (is_id(goal_id) and run.isdigit() and phase.isdigit()):
            return None
        return cls(goal_id, int(run), int(phase))


class StagedPublication:
    """The outbox entry, committed with the transition that claimed the phase."""

    def __init__(self, publication: Publication, due: float) -> None:
        self.publication = publication
        self.due = due

    def stage(self, pipe: redis.client.Pipeline) -> None:
        """ZADD the entry in the transition's MULTI."""
        pipe.zadd(OUTBOX, {self.publication.member(): self.due})


class Outbox:
    """Owed publications: recorded with a claim, crossed off once out, swept when overdue."""

    def __init__(self, connection: RedisConnection, grace_s: float) -> None:
        self.connection = connection
        self.grace_s = grace_s

    def staged(self, goal_id: str, run: int, phase: int) -> StagedPublication:
        """The entry a claim of phase commits (overdue after the grace period)."""
        return StagedPublication(Publication(goal_id, run, phase), time.time() + self.grace_s)

    def done(self, publication: Publication, riders: Iterable[Staged] = ()) -> None:
        """The phase is out: nothing owed any more. riders: writes sent in the same round trip,
        after (the notices announcing what was published)."""
        with self.connection.client.pipeline(transaction=False) as pipe:
            pipe.zrem(OUTBOX, publication.member())
            for rider in riders:
                rider.stage(pipe)
            pipe.execute()

    def overdue(self, limit: int) -> list[Publication]:
        """Publications still owed after their grace period, oldest first (bad entries dropped)."""
        client = self.connection.client
        found = []
        for raw in client.zrangebyscore(OUTBOX, "-inf", time.time(), start=0, num=limit):
            exact = raw if isinstance(raw, bytes) else str(raw).encode()
            member = exact.decode("utf-8", "replace")
            publication = Publication.parse(member)
            if publication is None:
                log.warning(f"dropped a malformed outbox entry {member[:80]!r}",
                            extra={"event": "outbox_malformed"})
                client.zrem(OUTBOX, exact)
                continue
            found.append(publication)
        return found

    def goals(self, limit: int = 10_000) -> set[str]:
        """Goals with a publication owed (due or not)."""
        raw = self.connection.client.zrange(OUTBOX, 0, limit - 1)
        return {p.goal_id for r in raw
                if (p := Publication.parse(r.decode() if isinstance(r, bytes) else str(r)))}
