"""A stopping worker tells its tasks so, in every process that runs them (prefork children too)."""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.queues import Queue

from marketing_team.observability.processes import set_stopping, stopping


def _report_stopping(answers: Queue[bool], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not stopping() and time.monotonic() < deadline:
        time.sleep(0.02)
    answers.put(stopping())


def test_a_pool_child_forked_before_the_stop_learns_that_its_worker_is_stopping() -> None:
    # A prefork pool forks its children when it starts; the worker's stop (SweeperStep.stop)
    # runs later, in the parent, and the children run the tasks whose waits must end
    ctx = multiprocessing.get_context("fork")
    set_stopping(False)
    answers: Queue[bool] = ctx.Queue()
    child = ctx.Process(target=_report_stopping, args=(answers, 10.0))
    child.start()
    try:
        time.sleep(0.2)  # the child is running before the stop
        set_stopping(True)
        assert answers.get(timeout=15) is True
    finally:
        set_stopping(False)
        child.join(15)


def test_a_worker_started_again_is_no_longer_stopping_in_its_children() -> None:
    ctx = multiprocessing.get_context("fork")
    set_stopping(True)
    set_stopping(False)  # SweeperStep.start of a worker (re)started in this process
    answers: Queue[bool] = ctx.Queue()
    child = ctx.Process(target=_report_stopping, args=(answers, 0.5))
    child.start()
    try:
        assert answers.get(timeout=15) is False
    finally:
        child.join(15)
