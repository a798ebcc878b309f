"""Which runtime a Celery app's tasks use: handed in by the composition root, built once on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable

from celery import Celery

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import ConfigurationError

RuntimeSource = Runtime | Callable[[], Runtime]
_ATTR = "_mt_runtime"
_lock = threading.Lock()


def attach(app: Celery, runtime: RuntimeSource,
           routed: Callable[[Runtime], None] | None = None) -> None:
    """Give app the runtime its tasks use (or a factory, called once when a task first needs it).

    routed: called with the runtime once it exists, to hand it what it needs from the app (how
    events it raises outside a task reach the bus).
    """
    if routed is None:
        setattr(app, _ATTR, runtime)
    elif isinstance(runtime, Runtime):
        routed(runtime)
        setattr(app, _ATTR, runtime)
    else:
        factory = runtime

        def build() -> Runtime:
            built = factory()
            routed(built)
            return built

        setattr(app, _ATTR, build)


def has_runtime(app: Celery | None) -> bool:
    """True for an app of ours (one a composition root attached a runtime to)."""
    return app is not None and getattr(app, _ATTR, None) is not None


def runtime_of(app: Celery) -> Runtime:
    """The runtime attached to app; a factory is called once and its result kept."""
    with _lock:
        source: RuntimeSource | None = getattr(app, _ATTR, None)
        if source is None:
            raise ConfigurationError(f"no runtime attached to the Celery app {app.main!r}")
        if not isinstance(source, Runtime):
            source = source()
            setattr(app, _ATTR, source)
        return source


def own_runtime(app: Celery) -> Runtime:
    """A runtime for a helper thread of a worker's main process, not shared with its tasks.

    Built anew from the factory (never cached on the app): a prefork pool forks its children from
    this process while the thread runs, and a child must build its own runtime rather than inherit
    one whose connections, locks and keeper threads belong to the parent. A runtime handed in
    already built (in-process workers, which never fork) is used as it is.
    """
    with _lock:
        source: RuntimeSource | None = getattr(app, _ATTR, None)
    if source is None:
        raise ConfigurationError(f"no runtime attached to the Celery app {app.main!r}")
    return source if isinstance(source, Runtime) else source()
