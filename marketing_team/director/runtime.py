"""The typed context a process hands to whatever needs dependencies: settings, stores, catalog, LLM, budget.

Built once per process by a composition root (the worker's app, a CLI run mode, a test's Team)
and passed down explicitly; nothing here reaches up to build one.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import redis

from marketing_team.budget.gate import BudgetGate
from marketing_team.budget.meter import GuardedLLM
from marketing_team.catalog.loader import load_catalog
from marketing_team.catalog.specs import Catalog
from marketing_team.config.settings import Settings
from marketing_team.domain.event import Event
from marketing_team.domain.goal import Priority
from marketing_team.domain.values import OFFLINE_PROVIDER, Tier
from marketing_team.llm.factory import make_llm, model_for_tier
from marketing_team.llm.protocol import LLM
from marketing_team.store.connection import RedisConnection
from marketing_team.store.context import ContextStore
from marketing_team.store.documents import DocumentStore
from marketing_team.store.goals import GoalStore
from marketing_team.store.internal_events import record_internal
from marketing_team.store.learnings import LearningStore
from marketing_team.store.leases import Leases
from marketing_team.store.outbox import Outbox
from marketing_team.store.replies import ReplyStore
from marketing_team.store.review_items import ReviewQueue
from marketing_team.store.schedule_state import ScheduleStates
from marketing_team.store.workspace import Workspace

EventRoute = Callable[[list[Event]], None]


class Runtime:
    """Everything a task body or command needs, built once per process (tests build their own).

    The LLM is built on first use: importing a provider's SDK costs over a second, which
    commands that never call a model (budget, goals list, health) should not pay.
    """

    def __init__(self, settings: Settings, llm: LLM | None = None, broker_url: str | None = None) -> None:
        self.settings = settings
        self.broker_url = broker_url
        self._llm = llm
        self._llm_lock = threading.Lock()
        self.catalog: Catalog = load_catalog(settings.catalog_dir)
        self.workspace = Workspace(settings.workspace)  # exports for people; never read back
        self.connection = RedisConnection(broker_url or settings.broker_url)
        retention = settings.retention_s
        self.goals = GoalStore(self.connection, retention)
        self.documents = DocumentStore(self.connection)
        self.learnings = LearningStore(self.connection)
        self.reviews = ReviewQueue(self.connection, retention)
        self.replies = ReplyStore(self.connection, retention)
        self.context = ContextStore(self.connection)
        self.schedules = ScheduleStates(self.connection)
        self.outbox = Outbox(self.connection, grace_s=settings.heartbeat_timeout_s)
        self.budget = BudgetGate(settings, self.connection, self.goals, self.offline)
        self._route: EventRoute | None = None

    @property
    def llm(self) -> LLM:
        """The model provider (the configured one, built on first use, unless one was handed in)."""
        if self._llm is None:
            with self._llm_lock:
                if self._llm is None:
                    self._llm = make_llm(self.settings)
        return self._llm

    @property
    def provider_name(self) -> str:
        """The provider's name, without building it."""
        return self._llm.name if self._llm is not None else self.settings.llm_provider

    @property
    def redis(self) -> redis.Redis:
        """A client on the broker's server (progress, ledger, cooldowns)."""
        return self.connection.client

    @functools.cached_property
    def leases(self) -> Leases:
        """Per-step leases, kept alive by their holder's heartbeat (MT_HEARTBEAT_TIMEOUT)."""
        return Leases(self.redis, self.settings.heartbeat_timeout_s)

    def model_for(self, tier: Tier) -> str:
        """The model id for a tier under the current provider."""
        return model_for_tier(self.settings, tier, self.provider_name)

    @property
    def offline(self) -> bool:
        """True when no model writes the text."""
        return self.provider_name == OFFLINE_PROVIDER

    def route_events(self, route: EventRoute) -> None:
        """How events raised outside a task (a planning failure) reach the bus: handed in by the
        Celery edge that attaches this runtime to its app."""
        self._route = route

    def raise_events(self, events: list[Event]) -> None:
        """Record the team's own events and route them through the bus when a route was handed
        in (a runtime without an app only records them)."""
        if self._route is not None:
            self._route(events)
            return
        for event in events:
            record_internal(self.redis, event)

    def guarded(self, goal_id: str | None, skill: str, key: str | None = None,
                priority: Priority | None = None) -> GuardedLLM:
        """The runtime's LLM behind the budget and, with a key, the reply store (priority: the
        goal's, when the caller has it)."""
        return GuardedLLM(self.llm, self.budget, self.replies, goal_id, skill, key, priority)


def build_runtime(settings: Settings, broker_url: str | None = None, llm: LLM | None = None) -> Runtime:
    """The runtime of one process: the configured provider unless one is handed in."""
    return Runtime(settings=settings, llm=llm, broker_url=broker_url)
