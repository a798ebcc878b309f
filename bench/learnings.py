"""Prompt build with 10,000 stored learnings: milliseconds per prompt."""

from __future__ import annotations

import time

from bench.common import Result, server
from marketing_team.catalog.loader import load_catalog
from marketing_team.director.prompts import skill_message, system_blocks
from marketing_team.domain.learning import Learning, Outcome
from marketing_team.store.connection import RedisConnection
from marketing_team.store.learnings import LearningStore

STORED = 10_000
PROMPTS = 200
TARGET_MS = 20.0


def run() -> Result:
    """Store 10,000 learnings over 26 skills, then time building copywriting prompts."""
    with server() as running:
        return _measure(LearningStore(RedisConnection(running.url)))


def _measure(store: LearningStore) -> Result:
    catalog = load_catalog(None)
    slugs = sorted(catalog.skills)
    for n in range(STORED):
        store.append(Learning(skill=slugs[n % len(slugs)], outcome=Outcome.PARTIAL,
                              lesson=f"Lesson {n}: tighten the headline and quantify the claim."))
    spec = catalog.skill("copywriting")
    # Baseline: the same prompt with no learnings at all.
    started = time.perf_counter()
    for _ in range(PROMPTS):
        system_blocks(spec, "context")
        skill_message(spec, "Goal: grow signups")
    baseline_ms = (time.perf_counter() - started) * 1000 / PROMPTS
    started = time.perf_counter()
    for _ in range(PROMPTS):
        system_blocks(spec, "context")
        skill_message(spec, "Goal: grow signups", learnings=store.for_skill("copywriting", 10))
    per_ms = (time.perf_counter() - started) * 1000 / PROMPTS
    return Result("prompt build, 10,000 learnings", per_ms, "ms", baseline_ms, per_ms / baseline_ms,
                  f"< {TARGET_MS:g} ms", per_ms < TARGET_MS,
                  "(learnings read from Redis: one capped list per skill)")


if __name__ == "__main__":
    print(run().line())
