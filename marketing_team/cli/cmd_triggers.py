"""`mtctl schedules list|run|enable|disable`, `mtctl events emit|mappings` and `mtctl serve`."""

from __future__ import annotations

import json
import socketserver
import uuid
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

import click

from marketing_team.cli.common import emit_json, local_runtime, offline_notice, say, settings
from marketing_team.cli.watch import follow, goal_summary, print_summary
from marketing_team.domain.errors import InputError
from marketing_team.domain.event import Event, EventType
from marketing_team.domain.goal import GoalStatus
from marketing_team.domain.values import utcnow
from marketing_team.observability import progress
from marketing_team.ops.run_mode import RunMode, store_session
from marketing_team.orchestration.dispatch import starter
from marketing_team.triggers import event_bus, firing
from marketing_team.triggers.schedules import next_fire


def _follow_goals(mode: RunMode, goal_ids: list[str], detach: bool, as_json: bool) -> bool:
    """Wait for each started goal unless detached (summaries unless --json); True when all went well."""
    rt = mode.runtime
    assert rt is not None  # set by RunMode.start
    finals = []
    for goal_id in goal_ids:
        if detach:
            finals.append(rt.goals.load(goal_id))
            continue
        sub = progress.Subscription(rt.redis, goal_id)
        try:
            finals.append(follow(rt, goal_id, sub, quiet=as_json))
        finally:
            sub.close()
    if not as_json:
        for goal in finals:
            print_summary(rt, goal)
    return detach or all(g.status is GoalStatus.COMPLETED for g in finals)


@click.group("schedules")
def schedules_group() -> None:
    """Recurring work fired by Beat: list, run now, enable, disable."""


@schedules_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def schedules_list(as_json: bool) -> None:
    """Each schedule with its next firing time, switch, last firing and last skip reason."""
    with store_session(settings()) as rt:
        tz, now = rt.settings.timezone, utcnow()
        rows: list[dict[str, Any]] = []
        for entry in rt.catalog.schedules:
            state = rt.schedules.get(entry.id)
            rows.append({"id": entry.id, "cron": entry.cron, "timezone": tz, "kind": entry.kind,
                         "target": entry.target, "priority": entry.priority.value,
                         "enabled": state.is_enabled(entry.enabled),
                         "next_fire": next_fire(entry.cron, now, tz).isoformat(),
                         "last_fired_at": state.last_fired_at.isoformat() if state.last_fired_at else None,
                         "last_goal_id": state.last_goal_id, "fire_count": state.fire_count,
                         "last_skip_reason": state.last_skip_reason.value if state.last_skip_reason else None,
                         "skip_count": state.skip_count})
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        switch = "on " if row["enabled"] else "off"
        skip = f"  last skip: {row['last_skip_reason']}" if row["last_skip_reason"] else ""
        say(f"{row['id']:<16} {switch} {row['cron']:<12} next {row['next_fire']}  "
                   f"{row['priority']} {row['kind']}: {row['target'][:50]}  "
                   f"fired {row['fire_count']}x{skip}")


@schedules_group.command("run")
@click.argument("schedule_id")
@click.option("--detach", is_flag=True, help="Publish and return (needs REDIS_URL and workers).")
@click.option("--json", "as_json", is_flag=True)
def schedules_run(schedule_id: str, detach: bool, as_json: bool) -> None:
    """Fire a schedule now (even when disabled; still skipped while its previous run is active)."""
    cfg = settings()
    firing.entry_of(local_runtime(cfg), schedule_id)  # unknown id: fail before starting
    with RunMode(cfg) as mode:
        assert mode.runtime is not None and mode.app is not None
        if detach and mode.embedded:
            raise InputError("--detach needs REDIS_URL and running workers")
        offline_notice(cfg)
        result = firing.fire(mode.runtime, schedule_id, starter(mode.app, mode.runtime), manual=True)
        if result.goal_id is None:
            if as_json:
                emit_json(result.as_json())
            else:
                say(f"schedule {schedule_id}: skipped ({result.skipped})", err=True)
            raise SystemExit(1)
        ok = _follow_goals(mode, [result.goal_id], detach, as_json)
        if as_json:
            emit_json({**result.as_json(), "goal": goal_summary(mode.runtime,
                                                            mode.runtime.goals.load(result.goal_id))})
    if not ok:
        raise SystemExit(1)


def _switch(schedule_id: str, enabled: bool) -> None:
    firing.entry_of(local_runtime(), schedule_id)  # unknown id: one line, nothing started
    with store_session(settings()) as rt:
        rt.schedules.set_enabled(schedule_id, enabled)
    say(f"schedule {schedule_id}: {'enabled' if enabled else 'disabled'}")


@schedules_group.command("enable")
@click.argument("schedule_id")
def schedules_enable(schedule_id: str) -> None:
    """Let Beat's next tick of this schedule start work (no beat restart needed)."""
    _switch(schedule_id, True)


@schedules_group.command("disable")
@click.argument("schedule_id")
def schedules_disable(schedule_id: str) -> None:
    """Make every tick of this schedule skip with reason `disabled` until enabled again."""
    _switch(schedule_id, False)


@click.group("events")
def events_group() -> None:
    """The event bus: emit an event, list the mappings."""


@events_group.command("emit")
@click.argument("event_type", type=click.Choice([t.value for t in EventType]))
@click.option("--data", "data_json", default="{}", help="The event's data as a JSON object.")
@click.option("--id", "event_id", default=None, help="Event id (same id twice starts one goal).")
@click.option("--detach", is_flag=True, help="Publish and return (needs REDIS_URL and workers).")
@click.option("--json", "as_json", is_flag=True)
def events_emit(event_type: str, data_json: str, event_id: str | None, detach: bool, as_json: bool) -> None:
    """Send one event through the bus, as the webhook would, and follow the goals it starts."""
    try:
        data = json.loads(data_json)
    except json.JSONDecodeError as exc:
        raise InputError(f"--data is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise InputError("--data must be a JSON object")
    fields: dict[str, Any] = {"type": event_type, "source": "cli", "data": data}
    if event_id:
        fields["id"] = event_id
    event = Event.model_validate(fields)
    cfg = settings()
    with RunMode(cfg) as mode:
        assert mode.runtime is not None and mode.app is not None
        if detach and mode.embedded:
            raise InputError("--detach needs REDIS_URL and running workers")
        offline_notice(cfg)
        result = event_bus.publish_event(mode.runtime, event, starter(mode.app, mode.runtime),
                                          owner=f"cli-{uuid.uuid4()}")
        if not as_json:
            say(f"event {result.event_id}: {result.explained}", err=True)
        ok = _follow_goals(mode, list(result.goals), detach, as_json)
        if as_json:
            emit_json(result.as_json())
    if not ok:
        raise SystemExit(1)


@events_group.command("mappings")
@click.option("--json", "as_json", is_flag=True)
def events_mappings(as_json: bool) -> None:
    """Which event starts which pipeline, on what condition, with what cooldown."""
    rows: list[dict[str, Any]] = [{"event": m.event.value, "pipeline": m.pipeline, "priority": m.priority.value,
             "condition": m.condition.model_dump(mode="json") if m.condition else None,
             "cooldown_s": m.cooldown_s} for m in local_runtime().catalog.events]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        cond = row["condition"]
        when = f"if data.{cond['field']} {cond['op']} {json.dumps(cond['value'])}" if cond else "always"
        say(f"{row['event']:<22} -> {row['pipeline']:<22} {row['priority']}  {when}, "
                   f"cooldown {row['cooldown_s']} s")


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--insecure", is_flag=True, help="Run without MT_WEBHOOK_TOKEN (trusted networks only).")
def serve_cmd(host: str, port: int, insecure: bool) -> None:
    """Serve the webhook for development (wsgiref); production: gunicorn marketing_team.web.wsgi:app."""
    # Imported here: the web (templates, markdown) costs every other command ~80 ms to import.
    from marketing_team.web.webhook import create_webhook_app, require_token

    cfg = settings()
    require_token(cfg, insecure)  # refuse before starting anything
    # Without REDIS_URL the embedded server and an in-process worker run the started goals.
    with RunMode(cfg) as mode:
        assert mode.runtime is not None
        app = create_webhook_app(cfg, insecure=insecure, broker_url=mode.runtime.broker_url)
        with make_server(host, port, app, server_class=_ThreadingServer) as server:
            desk = (f"; review desk http://{host}:{server.server_port}/desk/"
                    if cfg.console_password is not None else "")
            say(f"webhook on http://{host}:{server.server_port}/webhook "
                f"(health /health, metrics /metrics){desk}; Ctrl-C stops", err=True)
            server.serve_forever()


def register(cli: click.Group) -> None:
    """Add the schedules, events and serve commands to mtctl."""
    cli.add_command(schedules_group)
    cli.add_command(events_group)
    cli.add_command(serve_cmd)
