"""Five-field cron expressions: a strict check with messages a person can act on, and expansion.

Stricter than Celery's own parser (which wraps backwards ranges and takes names in any field);
tests/orchestration checks that Beat's crontab expands every accepted expression the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (label, lowest, highest, names counted from lowest); Celery's day of week stops at 6 (Saturday).
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)


def cron_problem(expr: str) -> str | None:
    """Why a 5-field cron expression is wrong, or None when it is valid and Celery Beat takes it."""
    fields = expr.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for text, (label, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            error = _part_problem(part, low, high, names)
            if error:
                return f"{label} field {text!r}: {error}"
    return None


def _part_problem(part: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    # Celery's own parser wraps backwards ranges and takes names in any field; cron users
    # expect neither, so this check is the stricter, standard reading.
    base, slash, step = part.partition("/")
    if slash and (not step.isdigit() or int(step) == 0):
        return f"step {step!r} must be a positive number"
    if base == "*":
        return None
    first, dash, last = base.partition("-")
    if slash and not dash:
        return f"a step needs '*' or a range before it, not {base!r}"
    numbers: list[int] = []
    for token in (first, last) if dash else (first,):
        if token.lower() in names:
            numbers.append(low + names.index(token.lower()))
        elif token.isdigit():
            numbers.append(int(token))
        else:
            named = f" or a name ({', '.join(names)})" if names else ""
            return f"{token!r} is not a number{named}"
        if not low <= numbers[-1] <= high:
            return f"{numbers[-1]} is outside {low}-{high}"
    if dash and numbers[0] > numbers[1]:
        return f"range {base!r} runs backwards"
    return None


@dataclass(frozen=True)
class CronFields:
    """A parsed five-field cron expression as sets of allowed values (day of week 0 = Sunday)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]


def _number(token: str, low: int, names: tuple[str, ...]) -> int:
    return low + names.index(token.lower()) if token.lower() in names else int(token)


def _expand(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        else:
            start, dash, end = base.partition("-")
            first = _number(start, low, names)
            last = _number(end, low, names) if dash else (high if step_text else first)
        values.update(range(first, last + 1, step))
    return frozenset(values)


def cron_fields(expr: str) -> CronFields:
    """Expand a valid expression (see cron_problem) into the values each field allows."""
    sets = [_expand(text, low, high, names)
            for text, (_, low, high, names) in zip(expr.split(), _FIELDS, strict=True)]
    return CronFields(*sets)
