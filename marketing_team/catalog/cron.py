"""Five-field cron expressions: a strict check with messages a person can act on."""

from __future__ import annotations

from celery.schedules import ParseException, crontab

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
    try:  # the parser Beat itself uses must agree, or the schedule would only fail when seeded
        crontab(minute=fields[0], hour=fields[1], day_of_month=fields[2],
                month_of_year=fields[3], day_of_week=fields[4])
    except (ValueError, ParseException) as exc:
        return str(exc)
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
