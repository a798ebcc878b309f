"""The one Celery app: `create_app(settings)` factory plus the lazily built process-wide instance."""

from __future__ import annotations

import importlib
import threading
from typing import Any

from celery import Celery

from marketing_team.results import backend_url
from marketing_team.runtime import redis_py_url
from marketing_team.settings import Settings, load_settings

LOCAL_DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def _static_config() -> dict[str, Any]:
    module = importlib.import_module("celeryconfig")
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and k.islower()}


def derived_config(settings: Settings, broker_url: str) -> dict[str, Any]:
    """Settings that follow from ours: URLs, time limits, and a visibility timeout above them."""
    # A visibility timeout shorter than a task makes a healthy worker run it again (measured);
    # it must also exceed the watchdog's countdown (2 x hard limit) so that timer is not redelivered.
    visibility = settings.hard_time_limit_s * 3
    # unacked_restore_throttle=1: a dead worker's messages return right after the visibility
    # timeout instead of waiting for the next ~100 s restore sweep.
    transport = {"visibility_timeout": visibility, "queue_order_strategy": "priority",
                 "priority_steps": list(range(10)), "sep": ":", "unacked_restore_throttle": 1}
    return {
        "broker_url": broker_url,
        "result_backend": backend_url(broker_url),
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_time_limit": settings.hard_time_limit_s,
        "worker_concurrency": settings.max_parallel_agents,
        "timezone": settings.timezone,
        "redbeat_redis_url": redis_py_url(broker_url),  # redbeat speaks redis-py URLs
        "redbeat_redis_options": {},
        "redbeat_lock_timeout": 25,
        "beat_max_loop_interval": 5,
    }


def create_app(settings: Settings, broker_url: str | None = None) -> Celery:
    """A configured app with every skill and director task registered."""
    url = broker_url or settings.broker_url or LOCAL_DEFAULT_BROKER
    app = Celery("marketing_team", set_as_current=False)
    app.conf.update(_static_config())
    app.conf.update(derived_config(settings, url))
    from marketing_team.catalog.loader import load_catalog
    from marketing_team.tasks import register

    register(app, load_catalog(settings.catalog_dir))
    from marketing_team.trigger_tasks import register as register_triggers

    register_triggers(app)
    from marketing_team.observers import connect

    connect(app)
    app.steps["worker"].add(_catalog_check_step(settings))
    return app


def _catalog_check_step(settings: Settings) -> type:
    """A worker bootstep that refuses to start on an invalid catalog (SPEC §3)."""
    from celery import bootsteps

    class CatalogCheck(bootsteps.Step):  # type: ignore[misc]
        """Validate the merged catalog before the worker consumes anything."""

        def __init__(self, parent: object, **kwargs: object) -> None:
            from marketing_team.catalog.validate import validate_catalog
            from marketing_team.errors import ConfigurationError

            problems = validate_catalog(settings.catalog_dir)
            if problems:
                shown = "; ".join(str(p) for p in problems[:5])
                raise ConfigurationError(f"invalid catalog ({len(problems)} problem(s)): {shown}")
            super().__init__(parent, **kwargs)

    return CatalogCheck


_app: Celery | None = None
_lock = threading.Lock()


def get_app() -> Celery:
    """The process-wide app, built from the environment on first use."""
    global _app
    with _lock:
        if _app is None:
            _app = create_app(load_settings())
            _app.set_current()
        return _app


def use_app(app: Celery) -> None:
    """Make app the process-wide one (the embedded mode and tests, which choose the broker)."""
    global _app
    with _lock:
        _app = app
        app.set_current()
        app.set_default()
