"""A running team for tests and benchmarks: real server, real app, in-process worker, chosen LLM."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from marketing_team import dispatch
from marketing_team.celery_app import create_app, use_app
from marketing_team.domain import Category, Goal, Priority
from marketing_team.launch import plan_goal, plan_pipeline
from marketing_team.llm.protocol import LLM
from marketing_team.runtime import Runtime, install
from marketing_team.settings import load_settings
from marketing_team.testing.servers import RunningServer
from marketing_team.worker import InProcessWorker


class Team:
    """Start with `with Team(server, tmp_path, llm) as team:`; goals run on a real worker."""

    def __init__(self, server: RunningServer, workspace: Path, llm: LLM, *, concurrency: int = 8,
                 worker: bool = True, **settings: Any) -> None:
        self.server = server
        self.settings = load_settings(_env_file=None, workspace_dir=workspace,
                                      redis_url=server.url, **settings)
        self.llm = llm
        self.concurrency = concurrency
        self.app = create_app(self.settings, broker_url=server.broker_url)
        self.rt = Runtime(settings=self.settings, llm=llm, broker_url=server.broker_url)
        self.worker: InProcessWorker | None = InProcessWorker(self.app, concurrency) if worker else None

    def start(self) -> Team:
        """Empty the server, make this app and runtime current, start the worker."""
        redis.Redis.from_url(self.server.url).flushall()
        use_app(self.app)
        install(self.rt)
        if self.worker is not None:
            self.worker.start()
        return self

    def stop(self) -> None:
        """Stop the worker and forget the runtime."""
        if self.worker is not None:
            self.worker.stop()
        install(None)

    def __enter__(self) -> Team:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

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
