"""Where work runs: the embedded server and in-process worker, or an external Redis with workers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import TracebackType

import redis
from celery import Celery

from marketing_team.celery_app import create_app, use_app
from marketing_team.errors import BrokerUnavailableError
from marketing_team.llm.factory import make_llm
from marketing_team.llm.protocol import LLM
from marketing_team.runtime import Runtime, install, redis_py_url
from marketing_team.settings import Settings, mask_url
from marketing_team.worker import InProcessWorker


def check_broker(url: str) -> None:
    """Raise BrokerUnavailableError naming the masked URL unless the server answers PING."""
    client = redis.Redis.from_url(redis_py_url(url), socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BrokerUnavailableError(
            f"Redis is unreachable at {mask_url(url)}: {type(exc).__name__}") from None
    finally:
        client.close()


@dataclass
class Backend:
    """Start what a command needs and stop it on exit (also on Ctrl-C and SIGTERM)."""

    settings: Settings
    run_worker: bool | None = None  # None: a worker runs in-process exactly when embedded
    llm: LLM | None = None
    app: Celery | None = None
    runtime: Runtime | None = None

    def __post_init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.shared_server = False

    @property
    def embedded(self) -> bool:
        """True when this command runs its own private server (no REDIS_URL, no `mtctl up`)."""
        return self.settings.broker_url is None and not self.shared_server

    def start(self) -> Backend:
        """Bring up the broker (embedded or checked), the app, the runtime and maybe a worker."""
        try:
            url = self.settings.broker_url
            if url is None:
                from marketing_team.supervisor import embedded_url

                url = embedded_url(self.settings)  # `mtctl up` runs a server and workers here
                self.shared_server = url is not None
            if url is None:
                from marketing_team.embedded import EmbeddedServer, install_signal_handlers

                install_signal_handlers()
                # appendonly: the budget ledger, schedules and queued work outlive one command.
                server = EmbeddedServer(self.settings.workspace / ".state", appendonly=True)
                url = server.start()
                self._stack.callback(server.stop)
            else:
                check_broker(url)
            self.app = create_app(self.settings, broker_url=url)
            use_app(self.app)
            self.runtime = Runtime(settings=self.settings, llm=self.llm or make_llm(self.settings),
                                   broker_url=url)
            install(self.runtime)
            self._stack.callback(install, None)
            if self.run_worker or (self.run_worker is None and self.embedded):
                worker = InProcessWorker(self.app, concurrency=self.settings.max_parallel_agents)
                worker.start()
                self._stack.callback(worker.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def close(self) -> None:
        """Stop the worker, then the server (in reverse order of start)."""
        self._stack.close()

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
