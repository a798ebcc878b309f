"""An in-process Celery worker on the threads pool (embedded mode and tests)."""

from __future__ import annotations

import logging
import os
import threading
from types import TracebackType

from celery import Celery
from celery.worker import state as worker_state
from celery.worker.worker import WorkController

from marketing_team.observability.processes import set_stopping


class _Controller(WorkController):  # type: ignore[misc]
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: object) -> None:
        self.ready.set()


class InProcessWorker:
    """A real worker consuming the skills and director queues from a thread of this process."""

    def __init__(self, app: Celery, concurrency: int = 8, hostname: str | None = None) -> None:
        self.app = app
        self.concurrency = concurrency
        # The pid too: commands sharing one embedded server each run a worker, and thread ids
        # repeat across processes.
        self.hostname = hostname or f"inprocess-{os.getpid()}-{threading.get_ident()}@localhost"
        self._thread: threading.Thread | None = None
        self._controller: _Controller | None = None

    def start(self, timeout_s: float = 30.0) -> InProcessWorker:
        """Start consuming; returns once the consumer is ready."""
        self.app.finalize()
        self.app.set_current()
        self.app.set_default()
        # An idle consumer wakes every brpop timeout (1 s by default) to see a stop request; an
        # in-process worker stops with its command, so it polls at 0.2 s to stop promptly.
        options = dict(self.app.conf.broker_transport_options or {})
        options.setdefault("polling_interval", 0.2)
        self.app.conf.broker_transport_options = options
        self._controller = _Controller(
            app=self.app, pool="threads", concurrency=self.concurrency, hostname=self.hostname,
            loglevel="WARNING", without_heartbeat=True, without_mingle=True, without_gossip=True,
            queues=["skills", "director"], ready_callback=None,
        )
        self._thread = threading.Thread(target=self._controller.start, daemon=True,
                                        name="mt-inprocess-worker")
        self._thread.start()
        if not self._controller.ready.wait(timeout_s):
            raise RuntimeError("the in-process worker did not become ready")
        return self

    @staticmethod
    def in_flight() -> int:
        """How many tasks this process is running now (each may be waiting on a model call)."""
        return len(worker_state.active_requests)

    def stop(self, timeout_s: float = 30.0, warm: bool = True) -> bool:
        """Warm shutdown: running tasks finish (they hold acks_late messages), then the thread ends.
        Cold (warm=False): the consumer stops at once and running tasks are not waited for.

        Returns False when tasks were still running at the deadline; they are left to die with the
        process (their messages go back to the queue, their steps resume elsewhere or on resume).
        """
        if self._thread is None:
            return True
        # Celery's flags: should_stop is the warm shutdown (the pool waits for its tasks),
        # should_terminate the cold one.
        if warm:
            worker_state.should_stop = 0
        else:
            worker_state.should_terminate = 0
        try:
            self._thread.join(timeout_s)
        except KeyboardInterrupt:
            self.abandon()
            raise
        ended = not self._thread.is_alive()
        worker_state.should_stop = worker_state.should_terminate = None
        if ended:
            set_stopping(False)  # this process goes on: its later calls may outwait an outage again
        else:
            self.abandon()
        self._thread = None
        return ended

    def abandon(self) -> None:
        """Stop waiting for running tasks: they die with the process. Their threads would log
        every failure as the server stops under them; that noise would bury the one line that
        matters, so logging ends here."""
        self._thread = None
        worker_state.should_stop = worker_state.should_terminate = None
        logging.disable(logging.CRITICAL)

    def __enter__(self) -> InProcessWorker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
