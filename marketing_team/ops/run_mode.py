"""Where a command's work runs: the embedded server and an in-process worker, or a Redis with workers.

A run mode is the composition root of one CLI command: it picks the broker, builds the runtime and
the Celery app around it, starts what the command needs and stops it on exit (also on Ctrl-C).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

import redis

from marketing_team.config.settings import Settings, mask_url
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.errors import BrokerUnavailableError
from marketing_team.domain.values import OFFLINE_PROVIDER
from marketing_team.llm.protocol import LLM
from marketing_team.observability import refusal
from marketing_team.ops.embedded import EmbeddedServer, install_signal_handlers, ping
from marketing_team.ops.shared_server import SharedServer
from marketing_team.ops.supervisor import embedded_url
from marketing_team.orchestration.app import create_app
from marketing_team.orchestration.control import CeleryApp
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.store.connection import redis_py_url
from marketing_team.store.durability import require_durable_ledger


def check_broker(url: str) -> None:
    """Raise BrokerUnavailableError naming the masked URL unless the server answers PING."""
    client = redis.Redis.from_url(redis_py_url(url), socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        refused_now = refusal.probe(client)  # PONG comes back while writes are turned away
        if refused_now is not None:
            raise refusal.refused(f"{mask_url(url)} (REDIS_URL)", refused_now)
    except redis.ResponseError as exc:
        cause = refusal.refusal_of(exc)  # a server refusing writes refuses PING too (MISCONF)
        if cause is not None:
            raise refusal.refused(f"{mask_url(url)} (REDIS_URL)", cause) from None
        raise BrokerUnavailableError(
            f"Redis is unreachable at {mask_url(url)}: {type(exc).__name__}") from None
    except redis.RedisError as exc:
        raise BrokerUnavailableError(
            f"Redis is unreachable at {mask_url(url)}: {type(exc).__name__}") from None
    finally:
        client.close()


@dataclass
class RunMode:
    """Start what a command needs and stop it on exit (also on Ctrl-C and SIGTERM)."""

    settings: Settings
    run_worker: bool | None = None  # None: a worker runs in-process exactly when embedded
    llm: LLM | None = None
    app: CeleryApp | None = None
    runtime: Runtime | None = None

    def __post_init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.shared_server = False
        self.worker: InProcessWorker | None = None

    def drain(self, timeout_s: float, on_wait: Callable[[int], None]) -> int:
        """Let this process's worker finish the calls it has in flight (so each is recorded and
        its hold released), up to timeout_s; a second Ctrl-C stops waiting. on_wait(n) is told
        first when n > 0. Returns how many calls were abandoned."""
        worker = self.worker
        if worker is None:
            return 0
        count = worker.in_flight()
        if count:
            on_wait(count)
        try:
            ended = worker.stop(timeout_s)
        except KeyboardInterrupt:
            ended = False
        self.worker = None
        return 0 if ended else max(1, worker.in_flight())

    @property
    def embedded(self) -> bool:
        """True when this command runs its own private server (no REDIS_URL, no `mtctl up`)."""
        return self.settings.broker_url is None and not self.shared_server

    def start(self) -> RunMode:
        """Bring up the broker (embedded or checked), the runtime, the app and maybe a worker."""
        try:
            url = self.settings.broker_url
            if url is None:
                url = embedded_url(self.settings)  # `mtctl up` runs a server and workers here
                self.shared_server = url is not None
            if url is None:
                install_signal_handlers()
                # appendonly: the budget ledger, schedules and queued work outlive one command;
                # shared: every command of this workspace uses one server, the last out stops it.
                server = SharedServer(self.settings.workspace / ".state")
                url = server.start()
                self._stack.callback(server.stop)
                refuse_if_read_only(server.server.redis_url, self.settings)
            else:
                check_broker(url)
            self.runtime = build_runtime(self.settings, url, self.llm)
            require_paid_ledger(self.runtime)
            self.app = create_app(self.settings, url, self.runtime)
            # The process's current and default app: canvases built in this thread publish here.
            self.app.set_current()
            self.app.set_default()
            if self.run_worker or (self.run_worker is None and self.embedded):
                worker = InProcessWorker(self.app, concurrency=self.settings.max_parallel_agents)
                worker.start()
                self.worker = worker
                self._stack.callback(self._stop_worker)
        except BaseException:
            self._stack.close()
            raise
        return self

    def _stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def close(self) -> None:
        """Stop the worker, then the server (in reverse order of start)."""
        self._stack.close()

    def __enter__(self) -> RunMode:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def require_paid_ledger(rt: Runtime) -> None:
    """Refuse paid work on a REDIS_URL server that would lose the ledger (the embedded servers
    and `mtctl up`'s persist; the offline provider pays nothing)."""
    url = rt.broker_url or rt.settings.broker_url
    if rt.settings.llm_provider == OFFLINE_PROVIDER or url is None or url != rt.settings.broker_url:
        return
    require_durable_ledger(rt.redis, mask_url(url), rt.settings.allow_volatile_ledger)


@contextlib.contextmanager
def store_session(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the server that holds the team's state, for commands that read or change it.

    REDIS_URL when set; else the server a live `mtctl up` or `mtctl goal` runs for this
    workspace; else the workspace's embedded server, started just for this command (its data
    is append-only on disk) and stopped again.
    """
    url = settings.broker_url
    if url is not None:
        check_broker(url)  # one line naming the masked URL when Redis is down
        yield build_runtime(settings, url)
        return
    url = embedded_url(settings)
    if url is not None:
        yield build_runtime(settings, url)
        return
    install_signal_handlers()
    with SharedServer(settings.workspace / ".state") as server:
        yield build_runtime(settings, server.broker_url)

@contextlib.contextmanager
def existing_store(settings: Settings) -> Iterator[Runtime | None]:
    """The team's store if there is one (REDIS_URL, a live server, or the workspace's data on
    disk), else None: for commands that read and promise to create nothing (dry runs)."""
    data = settings.workspace / ".state" / "data"
    if settings.broker_url is None and embedded_url(settings) is None and not data.is_dir():
        live = EmbeddedServer(settings.workspace / ".state")
        if not ping(str(live.socket_path)):
            yield None
            return
    with store_session(settings) as rt:
        yield rt


def refuse_if_read_only(redis_url: str, settings: Settings) -> None:
    """One line naming the embedded server's data when it turns writes away (a full disk), before
    a worker starts that could only wait for it."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        refused_now = refusal.probe(client)
    finally:
        client.close()
    if refused_now is not None:
        raise refusal.refused(f"the embedded server (data under {settings.workspace / '.state'})",
                              refused_now)
