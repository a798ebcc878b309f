"""Helpers for the budget tests: fake answers drafted offline, reported costs, polling, hand-made goals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from marketing_team.config.settings import Settings
from marketing_team.director.launch import build_tasks
from marketing_team.director.review import ReviewReply
from marketing_team.director.runtime import Runtime
from marketing_team.domain.goal import Category, Goal, PhaseSpec, Plan, Priority
from marketing_team.domain.values import new_id
from marketing_team.llm.offline import OfflineProvider
from marketing_team.llm.pricing import PriceTable
from marketing_team.llm.protocol import Message, SystemBlock, Usage
from marketing_team.testing.fake_anthropic import FakeReply, RecordedRequest
from marketing_team.testing.processes import wait_for as harness_wait_for
from marketing_team.testing.team import Team

API_KEY = "sk-ant-test-budget-0123456789abcdef"
TOKENS_IN, TOKENS_OUT = 1000, 500  # what the fake reports for every reply
PAID = {
    "anthropic_api_key": API_KEY, "llm_max_retries": 0, "llm_timeout_s": 10.0,
    # Small prompts and outputs keep each call's worst case (the reservation) near $0.06.
    "context_tokens": 8000, "max_output_tokens": 1024, "budget_monthly": Decimal("10"),
}


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def offline_answer(request: RecordedRequest) -> FakeReply:
    """A well-formed deliverable or review for any request, drafted by the offline provider."""
    body = request.body
    system = [SystemBlock(_text(block["text"])) for block in body.get("system", [])]
    messages = [Message(m["role"], _text(m["content"])) for m in body["messages"]]
    structured = (body.get("output_config") or {}).get("format") or {}
    schema = ReviewReply if structured.get("schema", {}).get("title") == "ReviewReply" else None
    reply = OfflineProvider().complete(system, messages, "offline", 8192, schema=schema)
    return FakeReply.text(reply.text, input_tokens=TOKENS_IN, output_tokens=TOKENS_OUT)


def reported_cost(requests: list[RecordedRequest], settings: Settings) -> Decimal:
    """What the fake's reported usage costs, request by request, at the table's prices."""
    prices = PriceTable.from_settings(settings)
    usage = Usage(input_tokens=TOKENS_IN, output_tokens=TOKENS_OUT)
    return sum((prices.cost(str(r.body["model"]), usage) for r in requests), Decimal(0))


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll check until it holds; fail naming what was awaited when the deadline passes."""
    try:
        harness_wait_for(check, timeout_s, what)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def planned_goal(team: Team, phases: list[list[str]], priority: Priority, text: str = "Lift signups",
                 parallel: bool = True) -> Goal:
    """A goal with a hand-made plan (no planning call), one phase per list of skills."""
    plan = Plan(source="routing", phases=tuple(
        PhaseSpec(name=f"{i + 1}. step", skills=tuple(skills), parallel=parallel and len(skills) > 1)
        for i, skills in enumerate(phases)))
    goal_id = new_id("goal")
    return Goal(id=goal_id, description=text, category=Category.CONTENT, priority=priority,
                plan=plan, provider=team.rt.llm.name,
                tasks=build_tasks(goal_id, plan, priority, text))


def raise_budget(team: Team, usd: str) -> Runtime:
    """What an operator does: restart with a higher BUDGET_MONTHLY (the ledger stays in Redis)."""
    return team.reconfigure(budget_monthly=Decimal(usd))
