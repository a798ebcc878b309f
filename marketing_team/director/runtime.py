"""The typed context a process hands to whatever needs dependencies: settings, stores, catalog, LLM, budget.

Built once per process by a composition root (the worker's app, a CLI run mode, a test's Team)
and passed down explicitly; nothing here reaches up to build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from marketing_team.budget.gate import BudgetGate
from marketing_team.budget.meter import GuardedLLM
from marketing_team.catalog.loader import load_catalog
from marketing_team.catalog.specs import Catalog
from marketing_team.config.settings import Settings
from marketing_team.domain.values import Tier
from marketing_team.llm.factory import make_llm, model_for_tier
from marketing_team.llm.protocol import LLM
from marketing_team.store.connection import RedisConnection
from marketing_team.store.context import ContextStore
from marketing_team.store.documents import DocumentStore
from marketing_team.store.goals import GoalStore
from marketing_team.store.learnings import LearningStore
from marketing_team.store.leases import Leases
from marketing_team.store.replies import ReplyStore
from marketing_team.store.review_items import ReviewQueue
from marketing_team.store.schedule_state import ScheduleStates
from marketing_team.store.workspace import Workspace


@dataclass
class Runtime:
    """Everything a task body or command needs, built once per process (tests build their own)."""

    settings: Settings
    llm: LLM
    broker_url: str | None = None
    catalog: Catalog = field(init=False)
    workspace: Workspace = field(init=False)  # where exports for people go; never read back
    connection: RedisConnection = field(init=False)
    goals: GoalStore = field(init=False)
    documents: DocumentStore = field(init=False)
    learnings: LearningStore = field(init=False)
    reviews: ReviewQueue = field(init=False)
    replies: ReplyStore = field(init=False)
    context: ContextStore = field(init=False)
    schedules: ScheduleStates = field(init=False)
    budget: BudgetGate = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = load_catalog(self.settings.catalog_dir)
        self.workspace = Workspace(self.settings.workspace)
        self.connection = RedisConnection(self.broker_url or self.settings.broker_url)
        retention = self.settings.retention_s
        self.goals = GoalStore(self.connection, retention)
        self.documents = DocumentStore(self.connection)
        self.learnings = LearningStore(self.connection)
        self.reviews = ReviewQueue(self.connection, retention)
        self.replies = ReplyStore(self.connection, retention)
        self.context = ContextStore(self.connection)
        self.schedules = ScheduleStates(self.connection)
        self.budget = BudgetGate(self.settings, self.connection, self.goals, self.offline)

    @property
    def redis(self) -> redis.Redis:
        """A client on the broker's server (progress, ledger, cooldowns)."""
        return self.connection.client

    @property
    def leases(self) -> Leases:
        """Per-(task, revision) leases; they lapse after 2x the hard time limit."""
        return Leases(self.redis, self.settings.hard_time_limit_s * 2)

    def model_for(self, tier: Tier) -> str:
        """The model id for a tier under the current provider."""
        return model_for_tier(self.settings, tier, self.llm.name)

    @property
    def offline(self) -> bool:
        """True when no model writes the text."""
        return self.llm.name == "offline"

    def guarded(self, goal_id: str | None, skill: str, key: str | None = None) -> GuardedLLM:
        """The runtime's LLM behind the budget and, with a key, the reply store."""
        return GuardedLLM(self.llm, self.budget, self.replies, goal_id, skill, key)


def build_runtime(settings: Settings, broker_url: str | None = None, llm: LLM | None = None) -> Runtime:
    """The runtime of one process: the configured provider unless one is handed in."""
    return Runtime(settings=settings, llm=llm or make_llm(settings), broker_url=broker_url)
