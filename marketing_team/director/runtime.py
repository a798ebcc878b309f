"""The typed context a process passes to whatever needs dependencies: settings, stores, catalog, LLM."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from marketing_team.catalog.loader import load_catalog
from marketing_team.catalog.specs import Catalog
from marketing_team.goals import GoalStore
from marketing_team.learnings import LearningStore
from marketing_team.settings import Settings, load_settings
from marketing_team.workspace import Workspace

if TYPE_CHECKING:
    import redis

    from marketing_team.llm.protocol import LLM, Tier


def redis_py_url(broker_url: str) -> str:
    """Kombu's `redis+socket://` spelling as redis-py's `unix://`."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url[len("redis+socket://"):]
    return broker_url


@dataclass
class Runtime:
    """Everything a task body or command needs, built once per process (tests build their own)."""

    settings: Settings
    llm: LLM
    broker_url: str | None = None
    catalog: Catalog = field(init=False)
    workspace: Workspace = field(init=False)
    goals: GoalStore = field(init=False)
    learnings: LearningStore = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = load_catalog(self.settings.catalog_dir)
        self.workspace = Workspace(self.settings.workspace)
        self.goals = GoalStore(self.workspace)
        self.learnings = LearningStore(self.workspace)

    @functools.cached_property
    def redis(self) -> redis.Redis:
        """A client on the broker's server (progress, ledger, cooldowns)."""
        import redis as redis_lib

        url = self.broker_url or self.settings.broker_url
        if url is None:
            from marketing_team.errors import BrokerUnavailableError

            raise BrokerUnavailableError("no Redis URL: set REDIS_URL or run the embedded mode")
        return redis_lib.Redis.from_url(redis_py_url(url), socket_timeout=10, health_check_interval=30)

    def model_for(self, tier: Tier) -> str:
        """The model id for a tier under the current provider."""
        from marketing_team.llm.factory import model_for_tier

        return model_for_tier(self.settings, tier, self.llm.name)

    @property
    def offline(self) -> bool:
        """True when no model writes the text."""
        return self.llm.name == "offline"


_current: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime | None) -> None:
    """Make runtime the process's current one (the CLI and test fixtures do this)."""
    global _current
    with _lock:
        _current = runtime


def current() -> Runtime:
    """The process's runtime, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            from marketing_team.celery_app import get_app
            from marketing_team.llm.factory import make_llm

            settings = load_settings()
            _current = Runtime(settings=settings, llm=make_llm(settings),
                               broker_url=get_app().conf.broker_url)
        return _current
