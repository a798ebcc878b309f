"""A step's lease goes back when its task ends, with the run's metrics, whatever way it ended."""

from __future__ import annotations

from marketing_team.domain.goal import GoalStatus
from marketing_team.store.leases import DUE
from marketing_team.testing.processes import wait_for
from marketing_team.testing.team import Team


def _leases_left(team: Team) -> list[bytes]:
    return [*team.rt.redis.scan_iter("mt:lease:*"), *team.rt.redis.zrange(DUE, 0, -1)]


def test_every_step_of_a_finished_goal_gave_its_lease_back(team: Team) -> None:
    goal = team.goal("Increase signup conversion by 20%")
    done = team.wait(goal.id)
    assert done.status is GoalStatus.COMPLETED

    # Each task's draft and its review held a lease; their tasks' ends gave every one back
    wait_for(lambda: not _leases_left(team), 10, "every lease to be released")
    runs = team.rt.redis.hget(f"mt:metrics:goal:{goal.id}", "runs")
    assert int(runs or 0) >= len(done.tasks) * 2  # and the same round trips counted each run

