"""Seeding redbeat from the catalog, the heartbeat, and the event task a worker runs."""

from __future__ import annotations

from celery.result import allow_join_result
from redbeat import RedBeatSchedulerEntry

from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import GoalStatus
from marketing_team.orchestration.beat import heartbeat_age, seed, write_heartbeat
from marketing_team.testing.team import Team


def test_seed_stores_one_redbeat_entry_per_schedule_keeping_its_last_run(team: Team) -> None:
    keys = seed(team.app, team.rt.catalog.schedules)

    assert sorted(keys) == sorted(f"redbeat:{e.id}" for e in team.rt.catalog.schedules)
    entry = RedBeatSchedulerEntry.from_key("redbeat:weekly-seo", app=team.app)
    assert entry.task == "triggers.fire_schedule" and list(entry.args) == ["weekly-seo"]
    assert entry.schedule.day_of_week == {3} and entry.options["queue"] == "director"
    ran = entry.due_at
    entry.reschedule(ran)
    seed(team.app, team.rt.catalog.schedules)
    assert RedBeatSchedulerEntry.from_key("redbeat:weekly-seo", app=team.app).last_run_at == ran


def test_heartbeat_age_is_none_without_a_beat_and_small_after_a_tick(team: Team) -> None:
    assert heartbeat_age(team.rt.redis) is None

    write_heartbeat(team.rt.redis, now=1000.0)

    assert heartbeat_age(team.rt.redis, now=1002.5) == 2.5
    assert 0 < team.rt.redis.ttl("mt:beat:heartbeat") <= 60


def test_handle_event_task_runs_the_bus_on_a_worker(team: Team) -> None:
    event = Event(type=EventType.COMPETITOR_LAUNCH, source="test", data={"name": "Rival 2.0"})

    with allow_join_result():
        result = team.app.send_task("triggers.handle_event", args=[event.model_dump_json()],
                                    queue="director").get(timeout=30)

    [goal_id] = result["goals"]
    assert result["event_id"] == event.id and result["reason"] is None
    goal = team.wait(goal_id, timeout_s=90)
    assert goal.status is GoalStatus.COMPLETED and goal.pipeline == "Competitive Response"
    assert goal.event is not None and goal.event.data == {"name": "Rival 2.0"}
