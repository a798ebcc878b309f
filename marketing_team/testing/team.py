"""A running team for tests and benchmarks: real server, real app, in-process worker, chosen LLM."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_goal, plan_pipeline
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.goal import Category, Goal, Priority
from marketing_team.llm.factory import make_llm
from marketing_team.llm.protocol import LLM
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app, create_app
from marketing_team.orchestration.context import attach
from marketing_team.orchestration.control import CeleryApp
from marketing_team.orchestration.inprocess_worker import InProcessWorker
from marketing_team.testing.servers import RunningServer


class Team:
    """Start with `with Team(server, tmp_path, llm) as team:`; goals run on a real worker."""

    def __init__(self, server: RunningServer, workspace: Path, llm: LLM, *, concurrency: int = 8,
                 worker: bool = True, **settings: Any) -> None:
        self.server = server
        # Test servers keep nothing across a restart on purpose: a volatile ledger is expected.
        self.settings = load_settings(_env_file=None, workspace_dir=workspace, redis_url=server.url,
                                      **{"allow_volatile_ledger": True, **settings})
        self.llm = llm
        self.concurrency = concurrency
        self.rt = build_runtime(self.settings, server.broker_url, llm)
        self.app = create_app(self.settings, server.broker_url, self.rt)
        self.worker: InProcessWorker | None = InProcessWorker(self.app, concurrency) if worker else None

    def start(self) -> Team:
        """Empty the server, make this app and runtime current, start the worker."""
        redis.Redis.from_url(self.server.url).flushall()
        self.app.set_current()
        self.app.set_default()
        if self.worker is not None:
            self.worker.start()
        return self

    def stop(self) -> None:
        """Stop the worker at once (a test is over: its running tasks are not waited for)."""
        if self.worker is not None:
            self.worker.stop(warm=False)

    def __enter__(self) -> Team:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def reconfigure(self, **changes: Any) -> Runtime:
        """What an operator does: restart with changed settings (state stays in Redis).

        The worker is restarted with the new runtime, as a redeployed worker would be.
        """
        self.settings = self.settings.model_copy(update=changes)
        self.rt = build_runtime(self.settings, self.server.broker_url, self.llm)
        if self.worker is not None:
            self.worker.stop()
        attach(self.app, self.rt)
        if self.worker is not None:
            self.worker = InProcessWorker(self.app, self.concurrency).start()
        return self.rt

    def goal(self, text: str, priority: Priority = Priority.P1, category: Category | None = None) -> Goal:
        """Plan, save and publish a goal; returns it as planned."""
        goal, _ = plan_goal(self.rt, text, priority, category)
        return self.launch(goal)

    def pipeline(self, name: str, priority: Priority | None = None) -> Goal:
        """Plan, save and publish a template as a goal."""
        return self.launch(plan_pipeline(self.rt, name, priority))

    def launch(self, goal: Goal) -> Goal:
        """Save and publish a planned goal."""
        self.rt.goals.create(goal)
        dispatch.start(self.app, self.rt, goal.id)
        return goal

    def wait(self, goal_id: str, timeout_s: float = 60.0) -> Goal:
        """Poll the goal until it settles (completed, failed, waiting for a human…) or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            goal = self.rt.goals.load(goal_id)
            if goal.status.is_settled or time.monotonic() > deadline:
                return goal
            time.sleep(0.05)


def beside(server: RunningServer, workspace: Path, **settings: Any) -> tuple[Runtime, CeleryApp]:
    """The runtime and app of a test process whose goals run on a spawned worker (none here):
    the configured provider (settings as keyword arguments), on the server's broker."""
    configured = load_settings(_env_file=None, redis_url=server.url, workspace_dir=workspace, **settings)
    rt = Runtime(settings=configured, llm=make_llm(configured), broker_url=server.broker_url)
    return rt, build_app(configured, broker_url=server.broker_url)


def start_pipeline(rt: Runtime, app: CeleryApp, name: str, priority: Priority = Priority.P1) -> Goal:
    """Plan a named pipeline as a goal, store it and publish its first phase."""
    goal = plan_pipeline(rt, name, priority)
    rt.goals.create(goal)
    dispatch.start(app, rt, goal.id)
    return goal
