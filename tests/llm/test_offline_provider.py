"""The offline provider: deterministic drafts with every required section, valid structured answers, $0."""

from __future__ import annotations

from decimal import Decimal

from marketing_team.catalog.loader import load_catalog
from marketing_team.director.planning import PlanProposal, propose_plan, rule_plan
from marketing_team.director.prompts import Upstream, review_messages, skill_message, system_blocks
from marketing_team.director.review import ReviewReply, weights_for
from marketing_team.director.structural_review import structural_review
from marketing_team.domain.goal import Category
from marketing_team.domain.review import Verdict
from marketing_team.llm.offline import OFFLINE_NOTICE, OfflineProvider

CATALOG = load_catalog(None)


def _draft(slug: str, context: str = "Acme sells invoicing software to freelancers.") -> str:
    spec = CATALOG.skill(slug)
    message = skill_message(spec, "Goal: Increase signup conversion by 20%\nYour part: produce it.",
                            upstream=[Upstream("page-cro", __import__("pathlib").Path("03-page-cro.md"),
                                               "## Conversion Summary\nThe form asks for too much.")])
    reply = OfflineProvider().complete(system_blocks(spec, context), [message], "offline", 8192)
    assert reply.cost_usd == Decimal("0") and reply.model == "offline"
    return reply.text


def test_offline_draft_has_every_required_section_and_passes_structural_review() -> None:
    for slug, spec in CATALOG.skills.items():
        text = _draft(slug)
        assert structural_review(text, spec).verdict is Verdict.APPROVE, slug


def test_offline_draft_says_in_its_first_line_that_no_model_wrote_it() -> None:
    assert _draft("email-sequence").splitlines()[0] == OFFLINE_NOTICE


def test_offline_draft_is_deterministic_and_uses_goal_context_and_upstream() -> None:
    first, second = _draft("copywriting"), _draft("copywriting")
    assert first == second
    assert "Increase signup conversion by 20%" in first and "page-cro" in first
    assert "Acme sells invoicing software" in first
    assert _draft("copywriting", "Other context about Zeta Corp analytics.") != first


def test_offline_plan_follows_the_rule_plan() -> None:
    plan, note = propose_plan("Increase signup conversion by 20%", Category.OPTIMIZATION, CATALOG,
                              OfflineProvider(), "offline")
    assert plan.phases == rule_plan(Category.OPTIMIZATION, CATALOG).phases
    assert note == "model plan accepted" and isinstance(PlanProposal.model_json_schema(), dict)


def test_offline_review_approves_complete_drafts_and_revises_missing_sections() -> None:
    spec = CATALOG.skill("ab-test-setup")
    good = _draft("ab-test-setup")
    for text, verdict in ((good, "APPROVE"), (good.replace("## Hypothesis", "## Something else"), "REVISE")):
        reply = OfflineProvider().complete([], review_messages(spec, "req", text, weights_for("measure")),
                                           "offline", 2048, schema=ReviewReply)
        assert isinstance(reply.parsed, ReviewReply) and reply.parsed.verdict.value == verdict
