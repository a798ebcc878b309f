"""`mtctl health`, `mtctl up` and `mtctl metrics`: operating the team on a machine."""

from __future__ import annotations

import contextlib
import importlib.util
from datetime import date
from pathlib import Path

import click

from marketing_team.cli.common import emit_json, say, settings
from marketing_team.config.settings import Settings, mask_url
from marketing_team.director import daily_report
from marketing_team.director.migration import migrate_workspace
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.errors import ConfigurationError, InputError, MarketingTeamError
from marketing_team.observability import logs, metrics
from marketing_team.ops import health
from marketing_team.ops.embedded import EmbeddedServer
from marketing_team.ops.orphans import reap_leftovers
from marketing_team.ops.run_mode import check_broker, store_session
from marketing_team.ops.supervisor import (
    Policy,
    Supervisor,
    broker_answers,
    child_specs,
    children_pidfile,
    embedded_url,
    mark_up,
    node_name,
    supervised_env,
    unmark_up,
)
from marketing_team.orchestration.app import build_app, create_app
from marketing_team.orchestration.control import node_answers

DUPLICATE_PING_S = 1.0  # a live worker answers within milliseconds; this is the wait for none


def _runtime(cfg: Settings) -> Runtime:
    return build_runtime(cfg, cfg.broker_url or embedded_url(cfg))


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.option("--timeout", default=health.PING_TIMEOUT_S, show_default=True,
              help="Seconds to wait for a worker's pong.")
@click.pass_context
def health_cmd(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """Check Redis, workers, beat and budget; exit 0 full, 1 limited, 2 minimal, 3 down."""
    cfg = settings()
    mode, may_answer = health.mode_of(cfg)
    with _health_runtime(cfg, mode) as rt:
        app = None
        if rt.broker_url is not None and may_answer:
            app = create_app(cfg, rt.broker_url, rt)
        report = health.check(rt, app, ping_timeout_s=timeout, mode=mode)
    if as_json:
        emit_json(report.as_json())
    else:
        say(f"level: {report.degradation.value} ({report.reason})")
        say(f"mode:  {_MODE_TEXT[report.mode]}")
        for part in report.components:
            say(f"  {part.name:<8} {part.status:<12} {part.detail}")
    ctx.exit(report.degradation.exit_code)


_MODE_TEXT = {
    health.Mode.REDIS: "redis (REDIS_URL: workers and beat run on their own)",
    health.Mode.UP: "up (the workspace's server, worker and beat under `mtctl up`)",
    health.Mode.EMBEDDED: "embedded (no REDIS_URL, no `mtctl up`: each goal runs its own worker)",
}


def _health_runtime(cfg: Settings, mode: health.Mode) -> contextlib.AbstractContextManager[Runtime]:
    """The runtime health reads: on the embedded default the workspace's own store, opened as
    every other command opens it (started for the check when no command runs it)."""
    if mode is health.Mode.EMBEDDED:
        return store_session(cfg)
    # REDIS_URL or `mtctl up`: an unreachable server is what health reports, not an error.
    return contextlib.nullcontext(_runtime(cfg))


@click.command("up")
@click.option("--beat/--no-beat", default=True, help="Run the beat scheduler.")
@click.option("--web/--no-web", default=True, help="Run the webhook app under gunicorn.")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Webhook address.")
@click.option("--grace", default=10.0, show_default=True,
              help="Seconds running tasks get to finish on stop before a cold shutdown.")
@click.option("--name", "node", default=None,
              help="The worker's Celery node name (default celery@<host>; %h is the host).")
def up_cmd(beat: bool, web: bool, bind: str, grace: float, node: str | None) -> None:
    """Run worker, beat and webhook for one machine, restarting any that stops (Ctrl-C stops all)."""
    cfg = settings()
    logs.configure(cfg, "up")
    node = node_name(node)
    pidfile = children_pidfile(cfg, node)
    # Children of an earlier `mtctl up` killed outright, should any have outlived it.
    reap_leftovers(pidfile)
    run_web, note = _web_ready(cfg) if web else (False, "")
    if note:
        say(f"web not started: {note}", err=True)
    with contextlib.ExitStack() as stack:
        url = cfg.broker_url
        if url is None:
            # Appendonly: queued and unacknowledged work survives a restart of `mtctl up`.
            server = EmbeddedServer(cfg.workspace / ".state", appendonly=True)
            url = server.start()
            stack.callback(server.stop)
            # Other commands in this workspace (mtctl goal, health) use this server and workers.
            mark_up(cfg)
            stack.callback(unmark_up, cfg)
        else:
            check_broker(url)
        _refuse_duplicate_node(cfg, url, node)
        supervisor = Supervisor(child_specs(cfg, beat=beat, web=run_web, bind=bind, node=node),
                                supervised_env(cfg, url), Policy(stop_grace_s=grace),
                                broker_ok=broker_answers(url), pidfile=pidfile)
        supervisor.run()
    if supervisor.failure:
        raise MarketingTeamError(supervisor.failure)


def _refuse_duplicate_node(cfg: Settings, url: str, node: str) -> None:
    """Start nothing when a worker with our node name already answers on the broker.

    Two workers under one name confuse Celery's control and monitoring (replies, revokes and
    Flower mix them up), and it usually means another `mtctl up` already serves this machine.
    """
    if node_answers(build_app(cfg, url), node, DUPLICATE_PING_S):
        raise ConfigurationError(
            f"a worker named {node} already answers on {mask_url(url)}: another `mtctl up` or "
            "worker runs under that name; stop it, or give this one another name with --name")


def _web_ready(cfg: Settings) -> tuple[bool, str]:
    """Whether the web app can start, and why not (it needs a webhook token or a desk password)."""
    if importlib.util.find_spec("gunicorn") is None:
        return False, "gunicorn is not installed (pip install gunicorn)"
    if cfg.webhook_token is None and cfg.console_password is None:
        return False, ("neither MT_WEBHOOK_TOKEN (the webhook) nor MT_CONSOLE_PASSWORD (the review "
                       "desk) is set (or run with --no-web)")
    return True, ""


@click.command("metrics")
@click.option("--day", "day_text", default=None, help="YYYY-MM-DD (default: today in MT_TIMEZONE).")
@click.option("--write", is_flag=True, help="Write workspace/metrics/YYYY-MM-DD-report.md.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def metrics_cmd(day_text: str | None, write: bool, as_json: bool) -> None:
    """Runs, failures, duration, tokens and cost per skill for a day."""
    cfg = settings()
    try:
        day = date.fromisoformat(day_text) if day_text else metrics.today(cfg.timezone)
    except ValueError:
        raise InputError(f"--day must be YYYY-MM-DD, got {day_text!r}") from None
    with store_session(cfg) as rt:
        per_skill = metrics.skills(rt.redis, day)
        path = daily_report.write_daily_report(rt, day) if write else None
        text = daily_report.report_markdown(rt, day)
    if as_json:
        emit_json({"day": day.isoformat(), "report": str(path) if path else None, "skills": {
            name: {"runs": c.runs, "failures": c.failures, "retries": c.retries,
                   "duration_s": round(c.duration_s, 3), "tokens_in": c.tokens_in,
                   "tokens_out": c.tokens_out, "cost_usd": str(c.cost_usd)}
            for name, c in per_skill.items()}})
        return
    say(text.rstrip())
    if path is not None:
        say(f"\nwritten: {path}")


@click.command("migrate")
@click.option("--from", "source", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The old workspace folder (default: WORKSPACE_DIR).")
def migrate_cmd(source: Path | None) -> None:
    """Import a workspace from the file-based releases into Redis, once (safe to run again)."""
    cfg = settings()
    with store_session(cfg) as rt:
        report = migrate_workspace(rt, source or cfg.workspace)
    for line in report.lines():
        say(line)


def register(cli: click.Group) -> None:
    """Add this module's commands to `mtctl`."""
    for command in (health_cmd, up_cmd, metrics_cmd, migrate_cmd):
        cli.add_command(command)
