"""Meta-tests of the shipped catalog: complete skills, and templates that only name what exists."""

from __future__ import annotations

import graphlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketing_team.catalog.loader import PACKAGE_DIR, load_catalog_from
from marketing_team.catalog.specs import DIRECTOR_REVIEW, FOUNDATION, SQUADS, Catalog
from marketing_team.domain.event import EventType
from marketing_team.domain.goal import Category, Priority
from marketing_team.store import frontmatter

SKILL_DIRS = sorted(p for p in (PACKAGE_DIR / "skills").iterdir() if p.is_dir())
FIELDS = ("name", "description", "squad", "tier", "sections", "min_words", "downstream")
SPEC_PIPELINES = {
    "Content Production", "Page Launch", "Product Launch", "Conversion Sprint",
    "Competitive Response", "Retention Sprint", "SEO Cycle", "Outreach Campaign",
    "Copywriting Review Chain",
}
SPEC_SQUADS = {
    "strategy": {"content-strategy", "pricing-strategy", "launch-strategy", "marketing-ideas",
                 "marketing-psychology", "competitor-alternatives"},
    "creative": {"copywriting", "copy-editing", "social-content", "cold-email", "paid-ads",
                 "programmatic-seo", "schema-markup"},
    "convert": {"page-cro", "form-cro", "signup-flow-cro", "popup-cro", "free-tool-strategy"},
    "activate": {"onboarding-cro", "email-sequence", "paywall-upgrade-cro", "referral-program"},
    "measure": {"analytics-tracking", "ab-test-setup", "seo-audit"},
}
PLACEHOLDER = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|lorem ipsum|lorem\b", re.IGNORECASE)
HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog_from(None)


def _meta(folder: Path) -> tuple[dict[str, Any], str]:
    return frontmatter.read(folder / "SKILL.md")


def _team_yaml() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PACKAGE_DIR / "team.yaml").read_text(encoding="utf-8"))
    return data


def _skill_names(catalog: Catalog) -> set[str]:
    return {slug for slug in catalog.skills if slug != DIRECTOR_REVIEW}


def test_catalog_has_26_skills_in_5_squads_plus_the_foundation(catalog: Catalog) -> None:
    assert len(SKILL_DIRS) == 26
    assert _skill_names(catalog) == {p.name for p in SKILL_DIRS}
    assert tuple(catalog.squads) == SQUADS
    assert {squad: set(slugs) for squad, slugs in catalog.squads.items()} == SPEC_SQUADS
    assert catalog.skills["product-marketing-context"].squad == FOUNDATION


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_front_matter_has_every_field(folder: Path) -> None:
    meta, _ = _meta(folder)
    assert [f for f in FIELDS if meta.get(f) in (None, "", [])] in ([], ["downstream"])
    assert meta["name"] == folder.name
    assert len(meta["description"]) >= 60
    assert isinstance(meta["min_words"], int) and meta["min_words"] > 0
    assert len(meta["sections"]) >= 3


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_sections_appear_as_headings_in_its_body(folder: Path) -> None:
    meta, body = _meta(folder)
    headings = HEADING.findall(body)
    assert [s for s in meta["sections"] if s not in headings] == []


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_tier_is_opus_for_strategy_and_foundation_and_sonnet_otherwise(folder: Path) -> None:
    meta, _ = _meta(folder)
    expected = "opus" if meta["squad"] in ("strategy", FOUNDATION) else "sonnet"
    assert meta["tier"] == expected


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_text_has_no_placeholders(folder: Path) -> None:
    text = (folder / "SKILL.md").read_text(encoding="utf-8")
    assert PLACEHOLDER.findall(text) == []


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_instructions_state_assumptions_instead_of_asking(folder: Path) -> None:
    _, body = _meta(folder)
    assert "assum" in body.lower()


@pytest.mark.parametrize("folder", SKILL_DIRS, ids=lambda p: p.name)
def test_skill_downstream_agrees_with_team_edges(folder: Path) -> None:
    meta, _ = _meta(folder)
    edges = _team_yaml()["edges"]
    assert set(meta["downstream"]) == set(edges.get(folder.name) or [])


def test_team_edges_name_known_skills_and_form_no_cycle(catalog: Catalog) -> None:
    names = _skill_names(catalog)
    edges = _team_yaml()["edges"]
    assert set(edges) <= names
    assert {c for consumers in edges.values() for c in consumers or []} <= names
    # graphlib reads the mapping as node -> nodes that must come first, so this orders consumers
    # before producers; it raises CycleError on a cycle.
    graph = {slug: set(spec.downstream) for slug, spec in catalog.skills.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert order[-1] == "product-marketing-context"  # upstream of everything


def test_every_squad_has_a_skill_and_every_skill_a_squad(catalog: Catalog) -> None:
    assert all(catalog.squads[squad] for squad in SQUADS)
    listed = {slug for slugs in catalog.squads.values() for slug in slugs}
    assert _skill_names(catalog) - listed == {"product-marketing-context"}
    for squad, slugs in catalog.squads.items():
        assert {catalog.skills[s].squad for s in slugs} == {squad}


def test_pipelines_are_the_nine_spec_templates(catalog: Catalog) -> None:
    assert set(catalog.pipelines) == SPEC_PIPELINES
    priorities = {name: spec.priority for name, spec in catalog.pipelines.items()}
    assert priorities["Conversion Sprint"] is Priority.P1
    assert priorities["Content Production"] is Priority.P2


@pytest.mark.parametrize("name", sorted(SPEC_PIPELINES))
def test_pipeline_names_known_skills_and_runs_producers_first(catalog: Catalog, name: str) -> None:
    spec = catalog.pipelines[name]
    seen: list[str] = []
    for step in spec.steps:
        assert set(step.skills) <= set(catalog.skills)
        for slug in step.skills:
            assert not set(catalog.skills[slug].downstream) & set(seen), (slug, seen)
        seen += step.skills
    assert spec.steps[-1].skills == (DIRECTOR_REVIEW,)


def test_routing_covers_every_category_with_known_squads_skills_and_templates(
        catalog: Catalog) -> None:
    assert set(catalog.routing) == set(Category)
    assert {category for category, _ in catalog.category_rules} == set(Category)
    for routing in catalog.routing.values():
        assert routing.template is None or routing.template in catalog.pipelines
        for route in routing.routes:
            assert route.squad in catalog.squads
            assert set(route.skills) <= set(catalog.squads[route.squad])


def test_schedules_are_the_six_spec_defaults(catalog: Catalog) -> None:
    got = {s.id: (s.cron, s.kind, s.priority.value) for s in catalog.schedules}
    assert got == {
        "daily-social": ("0 6 * * *", "goal", "P2"),
        "daily-review": ("0 9 * * *", "goal", "P1"),
        "weekly-content": ("0 0 * * 1", "pipeline", "P2"),
        "weekly-seo": ("0 0 * * 3", "pipeline", "P2"),
        "monthly-cro": ("0 0 1 * *", "pipeline", "P1"),
        "monthly-review": ("0 0 15 * *", "goal", "P1"),
    }
    targets = {s.id: s.target for s in catalog.schedules if s.kind == "pipeline"}
    assert targets == {"weekly-content": "Content Production", "weekly-seo": "SEO Cycle",
                       "monthly-cro": "Conversion Sprint"}
    assert all(s.category is not None for s in catalog.schedules if s.kind == "goal")


def test_event_mappings_are_the_seven_spec_mappings(catalog: Catalog) -> None:
    got = {
        m.event: (m.pipeline, m.priority.value, m.cooldown_s,
                  (m.condition.field, m.condition.op, m.condition.value) if m.condition else None)
        for m in catalog.events
    }
    assert got == {
        EventType.TRAFFIC_DROP: ("SEO Cycle", "P1", 3600, ("percentageDrop", "gt", 20)),
        EventType.CONVERSION_DROP: ("Conversion Sprint", "P0", 3600, ("percentageDrop", "gt", 10)),
        EventType.COMPETITOR_LAUNCH: ("Competitive Response", "P1", 86400, None),
        EventType.NEW_FEATURE_SHIPPED: ("Page Launch", "P1", 300, None),
        EventType.NEW_BLOG_POST: ("Content Production", "P2", 300, None),
        EventType.EMAIL_BOUNCE_SPIKE: ("Retention Sprint", "P1", 3600, ("percentageSpike", "gt", 15)),
        EventType.AB_TEST_SIGNIFICANT: ("Conversion Sprint", "P1", 300, None),
    }
    assert all(m.pipeline in catalog.pipelines for m in catalog.events)
