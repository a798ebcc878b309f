"""Learnings change behaviour: goal 1's failed review shows up in goal 2's prompts and plan."""

from __future__ import annotations

import redis

from marketing_team.domain.goal import Category, GoalStatus
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.store.connection import RedisConnection
from marketing_team.store.learnings import PER_CATEGORY, PER_SKILL, RECENT, LearningStore
from marketing_team.testing.scripted import ScriptedLLM
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team import Team


def test_learning_from_a_failed_review_reaches_the_next_goals_prompt_and_plan(
        scripted_team: Team, scripted: ScriptedLLM) -> None:
    scripted.on(lambda c: c.is_skill("copywriting"), "Too short.", times=1)
    first = scripted_team.wait(scripted_team.pipeline("Copywriting Review Chain").id)
    assert first.status is GoalStatus.COMPLETED

    second = scripted_team.goal("Write copy for our new landing page", category=Category.CONTENT)
    done = scripted_team.wait(second.id)

    assert done.status is GoalStatus.COMPLETED
    copy_prompt = [c for c in scripted.calls if c.is_skill("copywriting")][-1].prompt
    assert "<learnings>" in copy_prompt and "Sent back for revision" in copy_prompt
    plan_prompt = [c for c in scripted.calls if c.is_plan()][-1].prompt
    assert "copywriting: Sent back for revision" in plan_prompt
    assert any("Sent back for revision" in used for used in done.plan.learnings_used)


def test_learnings_are_read_newest_first_and_at_most_ten(redis_server: RunningServer,
                                                         redis_client: redis.Redis) -> None:
    store = LearningStore(RedisConnection(redis_server.url))
    for n in range(25):
        store.append(Learning(skill="seo-audit", outcome=Outcome.SUCCESS, lesson=f"lesson {n}"))
    got = store.for_skill("seo-audit")
    assert [g.lesson for g in got] == [f"lesson {n}" for n in range(24, 14, -1)]


def test_learnings_are_bounded_per_skill_per_category_and_overall(redis_server: RunningServer,
                                                                  redis_client: redis.Redis) -> None:
    store = LearningStore(RedisConnection(redis_server.url))
    for n in range(PER_SKILL + 50):
        store.append(Learning(skill="seo-audit", category=Category.CONTENT, outcome=Outcome.SUCCESS,
                              lesson=f"lesson {n}"))

    assert redis_client.llen("mt:learnings:skill:seo-audit") == PER_SKILL
    assert redis_client.llen("mt:learnings:category:content") == PER_CATEGORY
    assert store.for_skill("seo-audit", limit=1)[0].lesson == f"lesson {PER_SKILL + 49}"
    assert len(store.recent(limit=10_000)) <= RECENT


def test_an_unreadable_learning_is_skipped_not_fatal(redis_server: RunningServer,
                                                     redis_client: redis.Redis) -> None:
    store = LearningStore(RedisConnection(redis_server.url))
    store.append(Learning(skill="seo-audit", outcome=Outcome.SUCCESS, lesson="kept"))
    redis_client.lpush("mt:learnings:skill:seo-audit", "{not a learning")

    assert [g.lesson for g in store.for_skill("seo-audit")] == ["kept"]
