"""A stopping worker tells its tasks so, in every process that runs them (prefork children too)."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from contextlib import contextmanager

from marketing_team.observability.processes import set_stopping, wait_stopping


@contextmanager
def _forked_child(wait_for_stop_s: float) -> Iterator[int]:
    """A bare os.fork child (no queue or feeder thread to deadlock on in a threaded test process)
    that writes "r" once running, then "1" when it sees the worker stopping or "0" at its
    deadline. Yields the read end of its pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing but the flag and the pipe
        try:
            os.close(read_end)
            os.write(write_end, b"r")
            os.write(write_end, b"1" if wait_stopping(wait_for_stop_s) else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        yield read_end
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


def _read(fd: int, timeout_s: float = 15.0) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout_s)
    assert ready, "the forked child never answered"
    return os.read(fd, 1)


def test_a_pool_child_forked_before_the_stop_learns_that_its_worker_is_stopping() -> None:
    # A prefork pool forks its children when it starts; the worker's stop (SweeperStep.stop)
    # runs later, in the parent, and the children run the tasks whose waits must end
    set_stopping(False)
    try:
        with _forked_child(wait_for_stop_s=10.0) as child:
            assert _read(child) == b"r"  # the child runs before the stop

            set_stopping(True)

            assert _read(child) == b"1"
    finally:
        set_stopping(False)


def test_a_worker_started_again_is_no_longer_stopping_in_its_children() -> None:
    set_stopping(True)
    set_stopping(False)  # SweeperStep.start of a worker (re)started in this process
    with _forked_child(wait_for_stop_s=0.3) as child:
        assert _read(child) == b"r"
        assert _read(child) == b"0"
