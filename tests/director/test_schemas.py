"""The schemas the model answers are tight: nothing it leaves out is silently counted as zero."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from marketing_team.catalog.loader import load_catalog
from marketing_team.director.planning import plan_schema
from marketing_team.director.review import ReviewReply
from marketing_team.domain.review import SCORE_DIMENSIONS


def test_a_review_must_score_all_seven_dimensions_from_0_to_10() -> None:
    full = dict.fromkeys(SCORE_DIMENSIONS, 8.0)

    assert ReviewReply.model_validate({"verdict": "APPROVE", "scores": full}).score_map() == full
    for broken in ({}, {k: v for k, v in full.items() if k != "clarity"}, {**full, "clarity": 11},
                   {**full, "vibes": 9}):
        with pytest.raises(ValidationError):
            ReviewReply.model_validate({"verdict": "APPROVE", "scores": broken})
    with pytest.raises(ValidationError):
        ReviewReply.model_validate({"verdict": "APPROVE"})  # was: every score 0, so REJECT


def test_a_plan_may_name_only_skills_the_catalog_knows() -> None:
    catalog = load_catalog(None)
    schema = plan_schema(tuple(sorted(catalog.skills)))

    ok = schema.model_validate({"phases": [{"name": "Audit", "skills": ["seo-audit"]}]})
    assert ok.phases[0].skills == ["seo-audit"]
    with pytest.raises(ValidationError):
        schema.model_validate({"phases": [{"name": "Audit", "skills": ["growth-hacking"]}]})
    assert '"seo-audit"' in json.dumps(schema.model_json_schema())  # an enum the model sees
    assert schema.__name__ == "PlanProposal"
