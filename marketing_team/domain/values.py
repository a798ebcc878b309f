"""Small values every layer shares: the frozen model base, model tiers, ids and the clock."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from marketing_team.domain.errors import InputError

Tier = Literal["opus", "sonnet", "haiku"]
OFFLINE_PROVIDER = "offline"
"""The provider that writes filler by rule: its reviews and learnings are marked and kept apart."""

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}-\d{8}-[0-9a-f]{6}$")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str, now: datetime | None = None) -> str:
    """An id of the form `<prefix>-YYYYMMDD-<6 hex>`."""
    stamp = (now or utcnow()).strftime("%Y%m%d")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def is_id(value: str) -> bool:
    """True when value has the shape of one of our ids (`<prefix>-YYYYMMDD-<6 hex>`)."""
    return bool(_ID_RE.fullmatch(value))


def check_id(value: str, kind: str = "id") -> str:
    """Return value if it is a well-formed id (so it is safe as a path part), else raise InputError."""
    if not is_id(value):
        raise InputError(f"malformed {kind}: {value!r}")
    return value


class Frozen(BaseModel):
    """Base for immutable value objects."""

    model_config = ConfigDict(frozen=True, extra="forbid")
