"""The sweeper: what keeps every goal moving when a worker dies, a message is lost or the budget waits.

Run every few seconds by each worker (one at a time, under a Redis lock) and by beat. Each pass:
- takes over leases whose holder stopped renewing them (a SIGKILLed worker) and republishes the
  step, so it resumes on another worker within about a minute;
- republishes parked steps once the budget level allows them (or stops their goal when spent);
- publishes phases a transition claimed but whose publisher died before publishing them (the
  outbox the claim wrote in its transaction);
- fails goals planned but never published (their reason says so), so a schedule is not blocked;
- republishes the current phase of a goal with no state change for the hard time limit, no live
  lease and no message waiting for it, and fails it, naming what is stuck, when a second such
  window passes (SPEC §7: no progress for 2x the hard limit fails a goal).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from celery import Celery, bootsteps

from marketing_team.director import flow
from marketing_team.director.phases import ACTIVE
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.goal import Goal, GoalStatus
from marketing_team.observability.processes import set_stopping
from marketing_team.orchestration import dispatch, task_gate
from marketing_team.orchestration.canvas import runnable, still_owed
from marketing_team.orchestration.context import own_runtime
from marketing_team.orchestration.queues import goals_with_messages
from marketing_team.store.leases import Lease
from marketing_team.store.parked import ParkedStep, ParkedWork

log = logging.getLogger(__name__)
LOCK = "mt:sweeper:lock"
MAX_REPUBLISH = 1
STUCK_CHECK = "mt:sweeper:stuck-check"
STUCK_EVERY_S = 30.0
BATCH = 50
MAX_PAGES = 20  # quiet goals examined per stuck check: up to BATCH x MAX_PAGES


@dataclass
class SweepReport:
    """What one pass did, counted."""

    taken_over: int = 0
    unparked: int = 0
    published: int = 0
    planned_failed: int = 0
    republished: int = 0
    stuck_failed: int = 0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, int]:
        """The counts, for the task result and logs."""
        return {"taken_over": self.taken_over, "unparked": self.unparked,
                "published": self.published,
                "planned_failed": self.planned_failed, "republished": self.republished,
                "stuck_failed": self.stuck_failed}


def interval_s(rt: Runtime) -> float:
    """How often workers sweep: a sixth of the heartbeat timeout (5 s by default)."""
    return max(0.5, rt.settings.heartbeat_timeout_s / 6)


# KEYS: the lock. ARGV: token. Delete the lock only when it is still this sweep's.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def sweep(app: Celery, rt: Runtime, stuck_every_s: float = STUCK_EVERY_S) -> SweepReport:
    """One pass, unless another worker is sweeping right now (stuck goals: every stuck_every_s).

    Each step runs on its own: a step that fails (a malformed record, a broker error while
    publishing) is logged and the others still run.
    """
    report = SweepReport()
    hold = max(5, int(interval_s(rt) * 4))
    token = uuid.uuid4().hex
    if not rt.redis.set(LOCK, token, nx=True, ex=hold):
        return report
    steps: list[tuple[str, Callable[[], None]]] = [
        ("take_over", lambda: _take_over(app, rt, report)),
        ("unpark", lambda: _unpark(app, rt, report)),
        ("publish_owed", lambda: _publish_owed(app, rt, report)),
        ("planned", lambda: _planned(rt, report)),
        ("stuck", lambda: _stuck(app, rt, report, stuck_every_s)),
        ("drop_expired", rt.goals.drop_expired),  # also when no new goal arrives to do it
    ]
    try:
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one bad step must not stop the others
                log.warning(f"sweep step {name} failed: {type(exc).__name__}: {exc}"[:300],
                            extra={"event": "sweep_step_failed", "step": name})
                report.notes.append(name)
    finally:
        release_lock(rt, token)
    if any(report.as_json().values()):
        log.info("sweep", extra={"event": "sweep", **report.as_json()})
    return report


def release_lock(rt: Runtime, token: str) -> None:
    """Give the sweep lock back, unless it expired and a later sweep holds it now."""
    rt.redis.eval(_UNLOCK, 1, LOCK, token)


def _current(rt: Runtime, goal_id: str, run: int) -> Goal | None:
    """The goal when the run is still its run and it is under way; else None."""
    try:
        goal = rt.goals.load(goal_id)
    except MarketingTeamError:
        return None
    return goal if goal.run == run and goal.status in ACTIVE else None


def _take_over(app: Celery, rt: Runtime, report: SweepReport) -> None:
    for lease in rt.leases.lapsed(BATCH):
        taken = rt.leases.take_over(lease)
        if taken is None:
            continue  # renewed meanwhile, or another sweeper took it
        try:
            goal = _current(rt, lease.goal_id, lease.run)
            if goal is None:
                continue  # the goal moved on: nothing to resume
            _republish(app, goal, lease)
            report.taken_over += 1
            log.warning("step taken over from a silent worker", extra={
                "event": "lease_taken_over", "goal_id": goal.id, "task_id": lease.task_id,
                "kind": lease.kind})
        finally:
            # Released only now: had this sweeper died before republishing, the lease would
            # lapse again and the next sweep would take it over in turn.
            rt.leases.release(taken)


def _republish(app: Celery, goal: Goal, lease: Lease) -> None:
    task = goal.task(lease.task_id)
    # Also when its holder died right after the task's final write: the rest of its chain was
    # never published (a second copy of a step that was is a busy no-op).
    if still_owed(goal, task):
        dispatch.republish_task(app, goal, task)


def _unpark(app: Celery, rt: Runtime, report: SweepReport) -> None:
    parked = ParkedWork(rt.redis)
    for step in parked.due(BATCH):
        goal = _current(rt, step.goal_id, step.run)
        if goal is None:
            parked.drop(step)
            continue
        admission = rt.budget.admit(goal)
        if admission.kind == "defer":
            waited = ParkedStep(step.goal_id, step.task_id, step.run, step.waits + 1)
            parked.park(waited, task_gate.park_wait(waited.waits))
            continue
        parked.drop(step)
        if admission.kind == "exhausted":
            rt.budget.set_status(goal.id, GoalStatus.BUDGET_EXHAUSTED, admission.reason)
            continue
        rt.budget.set_status(goal.id, GoalStatus.RUNNING, "", only_from=(GoalStatus.WAITING_BUDGET,))
        task = goal.task(step.task_id)
        if runnable(task):
            dispatch.republish_task(app, goal, task)
            report.unparked += 1


def _publish_owed(app: Celery, rt: Runtime, report: SweepReport) -> None:
    for owed in rt.outbox.overdue(BATCH):
        goal = _current(rt, owed.goal_id, owed.run)
        if (goal is not None and goal.status is GoalStatus.RUNNING
                and goal.current_phase == owed.phase <= goal.dispatched_phase):
            dispatch.dispatch_phase(app, goal, owed.phase)  # its claimer died before publishing
            report.published += 1
            log.warning("published a phase its claimer never published", extra={
                "event": "phase_published_late", "goal_id": goal.id, "phase": owed.phase + 1})
        rt.outbox.done(owed)


def _planned(rt: Runtime, report: SweepReport) -> None:
    grace = rt.settings.heartbeat_timeout_s * 4
    for goal_id in rt.goals.created_before(GoalStatus.PLANNED, time.time() - grace, BATCH):
        reason = (f"planned but never published: the process that planned it stopped first "
                  f"(`mtctl goals resume {goal_id}` runs it)")
        goal = flow.fail_goal(rt, goal_id, reason, only_from=(GoalStatus.PLANNED,))
        if goal.status is GoalStatus.FAILED and goal.status_reason == reason:
            report.planned_failed += 1


def _stuck(app: Celery, rt: Runtime, report: SweepReport, every_s: float) -> None:
    """Goals with no state change for the hard time limit, no live lease and no message waiting.

    The first such window republishes the current phase (a message was lost); a second one fails
    the goal naming what is stuck, so no goal stays `running` for more than 2x the hard limit
    without progress. A goal whose message waits behind a long backlog is not stuck.
    """
    if every_s and not rt.redis.set(STUCK_CHECK, "1", nx=True, ex=max(1, int(every_s))):
        return  # checked moments ago (by this or another sweeper): the windows are minutes long
    window_s = rt.settings.hard_time_limit_s
    cutoff = time.time() - window_s
    queued: list[set[str]] = []  # read once per pass, when first needed
    offset = 0
    for _ in range(MAX_PAGES):
        page = rt.goals.untouched_since(cutoff, BATCH, offset)
        # Entries that stay listed (alive, queued) are paged past; the others left the range.
        offset += sum(_check_stuck(app, rt, report, goal_id, window_s, queued) for goal_id in page)
        if len(page) < BATCH:
            break


def _check_stuck(app: Celery, rt: Runtime, report: SweepReport, goal_id: str, window_s: int,
                 queued: list[set[str]]) -> bool:
    """Republish or fail one quiet goal; True when it stays listed as quiet (left alone)."""
    try:
        goal = rt.goals.load(goal_id)
    except MarketingTeamError:
        rt.goals.forget_touched(goal_id)
        return False  # unreadable or gone: nothing to republish
    if goal.status is not GoalStatus.RUNNING:
        # Parked work is the parking's, planned goals the planned check's: an entry left from
        # before a status change is dropped, so it cannot crowd running goals out.
        rt.goals.forget_touched(goal_id)
        return False
    pending = [t for t in goal.phase_tasks(goal.current_phase) if runnable(t)]
    if any(_alive(rt, t.id, t.revision) for t in pending):
        return True  # a long call still renews its lease: alive, not stuck
    if not queued:
        queued.append(goals_with_messages(rt.redis))
    if goal.id in queued[0]:
        return True  # its message waits for a free worker
    if goal.republished >= MAX_REPUBLISH:
        stuck = ", ".join(f"{t.skill} ({t.status.value})" for t in pending) or "the phase's join"
        flow.fail_goal(rt, goal.id, f"no progress for {window_s * 2} s (phase "
                       f"{goal.current_phase + 1} republished once, nothing ran it); "
                       f"stuck: {stuck}", run=goal.run)
        report.stuck_failed += 1
        return False
    goal, _ = rt.goals.update(goal.id, _count_republish)
    dispatch.dispatch_phase(app, goal, goal.current_phase)
    report.republished += 1
    return False


def _count_republish(goal: Goal) -> None:
    goal.republished += 1


def _alive(rt: Runtime, task_id: str, revision: int) -> bool:
    return rt.leases.alive("skill", task_id, revision) or rt.leases.alive("review", task_id, revision)


class SweeperStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """A worker bootstep: sweep every few seconds on a thread of the worker's own."""

    # After the pool has forked its children, and with a runtime built here in the main thread:
    # a module import or lock held by this thread at fork time would hang the child forever.
    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, worker: object) -> None:
        """Start sweeping with the app's runtime."""
        app = worker.app  # type: ignore[attr-defined]
        rt = own_runtime(app)
        try:  # a worker (re)started, maybe with a higher budget: check every parked step now
            ParkedWork(rt.redis).wake_all()
        except redis.RedisError:
            pass  # the broker is down too: the worker will not get far; its sweeps retry
        self._stop.clear()
        set_stopping(False)
        self._thread = threading.Thread(target=self._loop, args=(app, rt), name="mt-sweeper",
                                        daemon=True)
        self._thread.start()

    def _loop(self, app: Celery, rt: Runtime) -> None:
        failing = False
        while not self._stop.wait(interval_s(rt)):
            try:
                sweep(app, rt)
                failing = False
            except Exception as exc:  # noqa: BLE001 - the next pass tries again; never die
                # One warning per outage, not one every few seconds while the server is down.
                log.log(logging.DEBUG if failing else logging.WARNING, "sweep failed", extra={
                    "event": "sweep_failed", "error": f"{type(exc).__name__}: {exc}"[:300]})
                failing = True

    def stop(self, worker: object) -> None:
        """Stop sweeping (the worker is shutting down).

        Stopped before the pool (this step requires it), so tasks still running learn that the
        worker is stopping before the pool waits for them.
        """
        set_stopping(True)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def terminate(self, worker: object) -> None:
        """Stop sweeping (a cold shutdown; Celery's default would only look at `self.obj`)."""
        self.stop(worker)
