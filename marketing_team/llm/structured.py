"""Structured replies: the first JSON object in a reply, validated against the call's schema."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from marketing_team.domain.errors import StructuredOutputError


@functools.lru_cache(maxsize=64)
def _schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, generated once per class (pydantic builds it afresh on every call,
    ~1.5 ms for a review); a copy, so a caller may change it."""
    return copy.deepcopy(_schema_of(schema))


@functools.lru_cache(maxsize=64)
def json_schema_text(schema: type[BaseModel]) -> str:
    """The model's JSON schema as compact-enough text (for bounds and prompts), once per class."""
    return json.dumps(_schema_of(schema))


def extract_json_object(text: str) -> dict[str, Any]:
    """The first complete JSON object in text; code fences and surrounding prose are ignored."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise StructuredOutputError("the reply holds no complete JSON object")


def parse_structured(text: str, schema: type[BaseModel]) -> BaseModel:
    """Validate the reply's JSON object against the schema; StructuredOutputError when it fails."""
    data = extract_json_object(text)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise StructuredOutputError(f"schema validation failed: {problems}") from None
