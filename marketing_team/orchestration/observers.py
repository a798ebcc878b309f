"""Celery signal receivers that only record, log and meter; they never decide anything.

The one chore they carry is handing back the leases a step's body left for its end
(`step_end`), in the same round trip as the run's metrics.

Celery catches and logs whatever a receiver raises, so a receiver that decided something would fail
silently; gates live in `TeamTask.before_start` instead (see task_gate.py).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import redis
from celery import Celery, signals, states

from marketing_team.config.settings import load_settings
from marketing_team.domain.errors import MarketingTeamError
from marketing_team.domain.goal import TaskRecord
from marketing_team.observability import logs, metrics
from marketing_team.orchestration import step_end
from marketing_team.orchestration.context import has_runtime, runtime_of
from marketing_team.store.batch import Batch

log = logging.getLogger(__name__)
# (Celery task id, thread) -> monotonic start. A replaced task keeps its Celery id, and its
# replacement may start on another thread before the original's postrun: the thread tells them
# apart, since Celery sends prerun and postrun of one execution from the same thread.
_started: dict[tuple[str, int], float] = {}
_started_lock = threading.Lock()
_COMPONENTS = ("worker", "beat", "flower", "events", "multi")


def connect(app: Celery) -> None:
    """Attach the observers to Celery's signals (once per process, whichever app asks)."""
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="mt-prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="mt-postrun")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="mt-failure")
    signals.task_retry.connect(_on_retry, weak=False, dispatch_uid="mt-retry")
    # Any receiver on setup_logging makes Celery skip its own handlers: no duplicate lines.
    signals.setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid="mt-logging")
    # A worker warns (e.g. about running as root) before it sets up logging: configure earlier too.
    signals.celeryd_init.connect(_on_worker_init, weak=False, dispatch_uid="mt-worker-init")
    if component_from_argv(sys.argv) == "flower":
        # Flower never sends setup_logging; a root handler in place now keeps tornado from adding
        # its own plain-text one when flower parses its options.
        _on_setup_logging()


def component_from_argv(argv: list[str]) -> str:
    """`worker`, `beat`… for a `celery … <command>` process, else the program's name."""
    for word in argv[1:]:
        if word in _COMPONENTS:
            return word
    return "celery"


def _on_worker_init(options: dict[str, Any] | None = None, **_: Any) -> None:
    _on_setup_logging((options or {}).get("loglevel"))


def _on_setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """Route the worker's or beat's logging through logs.configure."""
    settings = load_settings()
    # LOG_LEVEL wins when the environment sets it; otherwise the command line's `-l` does.
    level = settings.log_level if "log_level" in settings.model_fields_set else loglevel
    logs.configure(settings, component_from_argv(sys.argv), level=level)


def _on_prerun(task_id: str, task: Any = None, **_: Any) -> None:
    if not has_runtime(getattr(task, "app", None)):
        return  # Celery's signals reach every app in the process; observe only ours
    # Leases an earlier task on this thread left without a postrun (none, normally).
    step_end.release_pending(runtime_of(task.app))
    with _started_lock:
        _started[(task_id, threading.get_ident())] = time.monotonic()


def _metered_name(task_name: str) -> str:
    return task_name.removeprefix("skills.")


def _on_postrun(task_id: str, task: Any, args: Any = (), kwargs: Any = None, retval: Any = None,
                state: str | None = None, **_: Any) -> None:
    if not has_runtime(getattr(task, "app", None)):
        return
    with _started_lock:
        start = _started.pop((task_id, threading.get_ident()), None)
    duration = time.monotonic() - start if start is not None else 0.0
    goal_id, our_task_id = logs.task_ids(args, kwargs)
    failed = state == states.FAILURE or (isinstance(retval, dict) and retval.get("status") == "failed")
    name = _metered_name(str(task.name))
    context: dict[str, Any] = {"event": "task_finished", "state": state, "duration_s": round(duration, 3),
                               "goal_id": goal_id, "task_id": our_task_id, "task_name": task.name}
    rt = runtime_of(task.app)
    batch = Batch(rt.redis)
    try:
        totals = None
        if str(task.name).startswith("skills.") and goal_id and our_task_id:
            shown = _totals_of(retval) or _stored_totals(rt.goals.load(goal_id).task(our_task_id))
            totals = metrics.Totals(int(shown["tokens_in"]), int(shown["tokens_out"]),
                                    Decimal(str(shown["cost_usd"])))
            context.update(shown)
        source, keys, values = metrics.record_call(metrics.TaskRun(
            name=name, day=metrics.today(rt.settings.timezone), duration_s=duration, goal_id=goal_id,
            task_id=our_task_id, failed=failed, retried=state == states.RETRY, totals=totals))
        batch.script(rt.redis.register_script(source), keys, values)
    except (redis.RedisError, MarketingTeamError, OSError) as exc:
        # Metering is advisory: the run itself is already recorded in the goal's state.
        log.warning("metrics not recorded", extra={**context, "event": "metrics_failed",
                                                   "error": f"{type(exc).__name__}: {exc}"[:300]})
    # The step's lease goes back in the same round trip (see step_end).
    step_end.queue_releases(rt, batch)
    try:
        batch.execute()
    except redis.RedisError as exc:  # an unreleased lease lapses, and the takeover finds it done
        log.warning("metrics or lease release not sent", extra={
            **context, "event": "metrics_failed", "error": f"{type(exc).__name__}: {exc}"[:300]})
    log.log(logging.WARNING if failed else logging.INFO, "task %s %s in %.3f s", task.name,
            (state or "?").lower(), duration, extra=context)


_TOTALS = ("skill", "model", "tokens_in", "tokens_out", "cost_usd")


def _totals_of(retval: Any) -> dict[str, Any] | None:
    """The task's totals a completed skill step returns (no read of the goal needed)."""
    if isinstance(retval, dict) and all(key in retval for key in _TOTALS):
        return {key: retval[key] for key in _TOTALS}
    return None


def _stored_totals(record: TaskRecord) -> dict[str, Any]:
    """The task's totals as its goal records them (a step that ended without drafting)."""
    return {"skill": record.skill, "model": record.model, "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out, "cost_usd": str(record.cost_usd)}


def _on_failure(sender: Any = None, task_id: str | None = None, exception: BaseException | None = None,
                args: Any = (), kwargs: Any = None, **_: Any) -> None:
    if not has_runtime(getattr(sender, "app", None)):
        return
    goal_id, our_task_id = logs.task_ids(args, kwargs)
    log.error("task raised %s", type(exception).__name__, extra={
        "event": "task_error", "goal_id": goal_id, "task_id": our_task_id,
        "task_name": getattr(sender, "name", None), "error": f"{type(exception).__name__}: {exception}"[:500]})


def _on_retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    if not has_runtime(getattr(sender, "app", None)):
        return
    args = getattr(request, "args", ()) or ()
    goal_id, our_task_id = logs.task_ids(args, getattr(request, "kwargs", None))
    log.info("task will retry: %s", str(reason)[:300], extra={
        "event": "task_retry", "goal_id": goal_id, "task_id": our_task_id,
        "task_name": getattr(sender, "name", None)})
