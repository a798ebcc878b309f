"""Find the JSON object in a model's reply text (fences and surrounding prose tolerated)."""

from __future__ import annotations

import json
from typing import Any

from marketing_team.errors import StructuredOutputError


def extract_json(text: str) -> Any:
    """The outermost JSON object in text; StructuredOutputError when there is none."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end < start:
        raise StructuredOutputError("reply holds no JSON object")
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise StructuredOutputError(f"reply JSON is invalid: {exc.msg} at char {exc.pos}") from None
