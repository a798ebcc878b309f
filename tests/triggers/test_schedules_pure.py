"""Schedules as data: the Beat schedule, next firing times and the fire decision, with no broker or clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketing_team.catalog.loader import load_catalog
from marketing_team.domain.errors import ConfigurationError
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.domain.schedule import ScheduleEntry, SkipReason
from marketing_team.orchestration.beat_schedule import beat_schedule
from marketing_team.triggers.schedules import next_fire, parse_cron, skip_reason


def test_beat_schedule_has_one_fire_entry_per_default_schedule() -> None:
    entries = load_catalog().schedules

    schedule = beat_schedule(entries)

    assert set(schedule) == {"daily-social", "daily-review", "weekly-content", "weekly-seo",
                             "monthly-cro", "monthly-review"}
    for schedule_id, spec in schedule.items():
        assert spec["task"] == "triggers.fire_schedule"
        assert spec["args"] == [schedule_id]
        assert spec["options"]["queue"] == "director"


def test_beat_schedule_maps_cron_fields_in_cron_order() -> None:
    entry = ScheduleEntry(id="weekly-seo", cron="0 0 * * 3", kind="pipeline", target="SEO Cycle")

    crontab = beat_schedule([entry])["weekly-seo"]["schedule"]

    assert crontab.day_of_week == {3}
    assert crontab.hour == {0} and crontab.minute == {0}
    assert len(crontab.day_of_month) == 31


def test_beat_schedule_uses_the_schedules_priority() -> None:
    entry = ScheduleEntry(id="x", cron="0 9 * * *", kind="goal", target="t", priority=Priority.P1)

    assert beat_schedule([entry])["x"]["options"]["priority"] == Priority.P1.broker_priority


def test_parse_cron_rejects_a_bad_expression_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="61 0"):
        parse_cron("61 0 * * *")
    with pytest.raises(ConfigurationError, match="5 fields"):
        parse_cron("0 0 * *")


def test_next_fire_of_a_weekly_schedule_is_the_next_wednesday_midnight() -> None:
    friday = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    assert next_fire("0 0 * * 3", friday, "UTC") == datetime(2026, 5, 6, 0, 0, tzinfo=UTC)


def test_next_fire_is_strictly_after_the_given_time() -> None:
    at_six = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)

    assert next_fire("0 6 * * *", at_six, "UTC") == datetime(2026, 5, 2, 6, 0, tzinfo=UTC)


def test_next_fire_honours_the_timezone_setting() -> None:
    morning_utc = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)

    fire = next_fire("0 6 * * *", morning_utc, "America/New_York")

    assert fire.astimezone(UTC) == datetime(2026, 1, 10, 11, 0, tzinfo=UTC)


def test_next_fire_of_a_monthly_schedule_skips_to_the_next_month() -> None:
    after_the_15th = datetime(2026, 2, 16, tzinfo=UTC)

    assert next_fire("0 0 15 * *", after_the_15th, "UTC") == datetime(2026, 3, 15, tzinfo=UTC)


def test_next_fire_finds_the_next_leap_day() -> None:
    assert next_fire("0 0 29 2 *", datetime(2026, 3, 1, tzinfo=UTC), "UTC").year == 2028


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"enabled": False, "previous": None, "budget_level_denying": None}, SkipReason.DISABLED),
    ({"enabled": True, "previous": GoalStatus.RUNNING, "budget_level_denying": None},
     SkipReason.PREVIOUS_RUN_ACTIVE),
    ({"enabled": True, "previous": GoalStatus.WAITING_BUDGET, "budget_level_denying": None},
     SkipReason.PREVIOUS_RUN_ACTIVE),
    ({"enabled": True, "previous": GoalStatus.COMPLETED, "budget_level_denying": "throttle"},
     SkipReason.BUDGET_THROTTLE),
    ({"enabled": True, "previous": GoalStatus.FAILED, "budget_level_denying": None}, None),
    ({"enabled": True, "previous": None, "budget_level_denying": None}, None),
])
def test_decide_names_the_first_reason_to_skip(kwargs: dict[str, object], expected: SkipReason | None) -> None:
    assert skip_reason(**kwargs) == expected  # type: ignore[arg-type]


def test_decide_lets_a_manual_run_fire_a_disabled_schedule() -> None:
    assert skip_reason(enabled=False, previous=None, budget_level_denying=None, manual=True) is None
    assert skip_reason(enabled=False, previous=GoalStatus.RUNNING, budget_level_denying=None,
                  manual=True) is SkipReason.PREVIOUS_RUN_ACTIVE
