"""The Celery app: `create_app(settings, broker_url, runtime)` registers every task on a fresh app."""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from celery import Celery, bootsteps

from marketing_team.catalog.loader import load_catalog
from marketing_team.catalog.validate import validate_catalog
from marketing_team.config import celery_settings
from marketing_team.config.settings import Settings, mask_url
from marketing_team.director.runtime import build_runtime
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.values import OFFLINE_PROVIDER
from marketing_team.llm.factory import preload_sdk
from marketing_team.llm.protocol import LLM
from marketing_team.orchestration import (
    dispatch,
    log_context,
    observers,
    sweeper,
    tasks,
    transport,
    trigger_tasks,
)
from marketing_team.orchestration.context import RuntimeSource, attach
from marketing_team.orchestration.queues import PRIORITY_STEPS, SEP
from marketing_team.orchestration.result_backend import backend_url
from marketing_team.store.connection import redis_py_url
from marketing_team.store.durability import require_durable_ledger

# Before any connection is made in this process (kombu caches the class it resolves first).
transport.install()

LOCAL_DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def static_config() -> dict[str, Any]:
    return {k: v for k, v in vars(celery_settings).items() if not k.startswith("_") and k.islower()}


def derived_config(settings: Settings, broker_url: str) -> dict[str, Any]:
    """Settings that follow from ours: URLs, time limits, and a visibility timeout above them."""
    broker_url = transport.kombu_url(broker_url)
    # A visibility timeout shorter than a task makes a healthy worker run it again (measured);
    # at 3x the hard limit it is only the last resort behind the heartbeat leases.
    visibility = settings.hard_time_limit_s * 3
    # unacked_restore_throttle=1: a dead worker's messages return right after the visibility
    # timeout instead of waiting for the next ~100 s restore sweep.
    options = {"visibility_timeout": visibility, "queue_order_strategy": "priority",
               "priority_steps": PRIORITY_STEPS, "sep": SEP, "unacked_restore_throttle": 1}
    return {
        "broker_url": broker_url,
        "result_backend": backend_url(broker_url),
        "broker_transport_options": options,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_time_limit": settings.hard_time_limit_s,
        "worker_concurrency": settings.max_parallel_agents,
        "timezone": settings.timezone,
        # A masked copy: `inspect conf` and Flower show every setting whose name does not look
        # secret, and Celery masks only broker_url and result_backend. redbeat uses the client
        # attached to the app instead (see create_app).
        "redbeat_redis_url": mask_url(redis_py_url(broker_url)),
        "redbeat_redis_options": {},
        "redbeat_lock_timeout": 25,
        "beat_max_loop_interval": 5,
    }


def create_app(settings: Settings, broker_url: str, runtime: RuntimeSource) -> Celery:
    """A configured app with every skill, director and trigger task registered, using runtime."""
    app = Celery("marketing_team", set_as_current=False)
    app.conf.update(static_config())
    app.conf.update(derived_config(settings, broker_url))
    # redbeat speaks redis-py URLs and uses the client it finds on the app: the real URL stays
    # out of the configuration that workers report.
    app.redbeat_redis = redis.Redis.from_url(redis_py_url(broker_url), decode_responses=True)
    # Events a runtime raises outside a task (a planning failure) go through the bus like a task's.
    attach(app, runtime, routed=lambda rt: rt.route_events(lambda events: dispatch.emit(app, rt, events)))
    tasks.register(app, load_catalog(settings.catalog_dir))
    trigger_tasks.register(app)
    observers.connect(app)
    log_context.install()
    app.steps["worker"].add(_catalog_check_step(settings, broker_url))
    app.steps["worker"].add(sweeper.SweeperStep)
    return app


def build_app(settings: Settings, broker_url: str | None = None, llm: LLM | None = None) -> Celery:
    """The app and, built on first use, the runtime its tasks share (the composition of a process)."""
    url = broker_url or settings.broker_url or LOCAL_DEFAULT_BROKER
    return create_app(settings, url, lambda: build_runtime(settings, url, llm))


def _catalog_check_step(settings: Settings, broker_url: str) -> type:
    """A worker bootstep that refuses to start on an invalid catalog (SPEC §3) or, for paid work,
    on a server that would lose the ledger; it also preloads the SDK."""

    class CatalogCheck(bootsteps.Step):  # type: ignore[misc]
        """Validate the merged catalog before the worker consumes anything."""

        def __init__(self, parent: object, **kwargs: object) -> None:
            # The override is what an operator can change, so it is checked here, with the shipped
            # files it merges with; the shipped catalog alone is checked in CI (the test suite
            # validates it) and by the loader's models, so a worker without an override starts
            # ~0.1 s sooner (every cold `mtctl goal` starts one).
            problems = validate_catalog(settings.catalog_dir) if settings.catalog_dir else []
            if problems:
                shown = "; ".join(str(p) for p in problems[:5])
                raise ConfigurationError(f"invalid catalog ({len(problems)} problem(s)): {shown}")
            if settings.llm_provider != OFFLINE_PROVIDER:
                with contextlib.closing(redis.Redis.from_url(redis_py_url(broker_url))) as client:
                    require_durable_ledger(client, mask_url(broker_url), settings.allow_volatile_ledger)
            preload_sdk(settings)  # before the pool forks: children inherit the imported SDK
            super().__init__(parent, **kwargs)

    return CatalogCheck
