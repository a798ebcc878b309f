"""An in-process Celery worker on the threads pool (embedded mode and tests)."""

from __future__ import annotations

import threading
from types import TracebackType

from celery import Celery
from celery.worker import state as worker_state
from celery.worker.worker import WorkController


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
        self.hostname = hostname or f"inprocess-{threading.get_ident()}@localhost"
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

    def stop(self, timeout_s: float = 30.0) -> None:
        """Warm shutdown: running tasks finish (they hold acks_late messages), then the thread ends."""
        if self._thread is None:
            return
        worker_state.should_terminate = 0
        self._thread.join(timeout_s)
        worker_state.should_terminate = None
        self._thread = None

    def __enter__(self) -> InProcessWorker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
