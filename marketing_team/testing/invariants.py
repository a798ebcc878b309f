"""Invariants crash tests check, read straight from the server (the broker's lists included).

"No goal stays running without a live task or a queued message for it": a goal under way must
have something that will move it on: a lease (live, or lapsed and about to be taken over), a
message naming it waiting in a queue, a parked step, or a phase its claimer owes the broker (the
outbox, swept when overdue). A message a worker holds unacknowledged does not count: a dead
worker's stays held until the visibility timeout, half an hour away.
"""

from __future__ import annotations

import redis

from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import GoalStatus
from marketing_team.orchestration.queues import goals_with_messages
from marketing_team.store.parked import ParkedWork


def _leased_goals(client: redis.Redis) -> set[str]:
    found = set()
    for key in client.scan_iter("mt:lease:*"):
        goal_id = client.hget(key, "goal_id")
        if goal_id:
            found.add(goal_id.decode() if isinstance(goal_id, bytes) else str(goal_id))
    return found


def unaccounted_goals(rt: Runtime) -> list[str]:
    """Goals running or waiting for the budget with nothing that will move them on (should be [])."""
    active = (rt.goals.ids(10_000, GoalStatus.RUNNING)
              + rt.goals.ids(10_000, GoalStatus.WAITING_BUDGET))
    if not active:
        return []
    moving = (_leased_goals(rt.redis) | goals_with_messages(rt.redis)
              | {step.goal_id for step in ParkedWork(rt.redis).waiting(10_000)}
              | rt.outbox.goals())
    return [goal_id for goal_id in active if goal_id not in moving]
