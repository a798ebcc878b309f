"""`mtctl health`, `mtctl up` and `mtctl metrics`: operating the team on a machine."""

from __future__ import annotations

import contextlib
import importlib.util
from datetime import date
from pathlib import Path

import click

from marketing_team.cli.common import emit_json, say, settings
from marketing_team.config.settings import Settings
from marketing_team.director import daily_report
from marketing_team.director.migration import migrate_workspace
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.errors import InputError, MarketingTeamError
from marketing_team.observability import logs, metrics
from marketing_team.ops import health
from marketing_team.ops.embedded import EmbeddedServer
from marketing_team.ops.run_mode import check_broker, store_session
from marketing_team.ops.supervisor import (
    Policy,
    Supervisor,
    broker_answers,
    child_specs,
    embedded_url,
    mark_up,
    supervised_env,
    unmark_up,
)
from marketing_team.orchestration.app import create_app


def _runtime(cfg: Settings) -> Runtime:
    return build_runtime(cfg, cfg.broker_url or embedded_url(cfg))


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.option("--timeout", default=health.PING_TIMEOUT_S, show_default=True,
              help="Seconds to wait for a worker's pong.")
@click.pass_context
def health_cmd(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """Check Redis, workers, beat and budget; exit 0 full, 1 limited, 2 minimal, 3 offline."""
    cfg = settings()
    rt = _runtime(cfg)
    app = None
    if rt.broker_url is not None:
        app = create_app(cfg, rt.broker_url, rt)
    report = health.check(rt, app, ping_timeout_s=timeout)
    if as_json:
        emit_json(report.as_json())
    else:
        say(f"level: {report.degradation.value} ({report.reason})")
        for part in report.components:
            say(f"  {part.name:<8} {part.status:<12} {part.detail}")
    ctx.exit(report.degradation.exit_code)


@click.command("up")
@click.option("--beat/--no-beat", default=True, help="Run the beat scheduler.")
@click.option("--web/--no-web", default=True, help="Run the webhook app under gunicorn.")
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Webhook address.")
@click.option("--grace", default=10.0, show_default=True,
              help="Seconds running tasks get to finish on stop before a cold shutdown.")
def up_cmd(beat: bool, web: bool, bind: str, grace: float) -> None:
    """Run worker, beat and webhook for one machine, restarting any that stops (Ctrl-C stops all)."""
    cfg = settings()
    logs.configure(cfg, "up")
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
        supervisor = Supervisor(child_specs(cfg, beat=beat, web=run_web, bind=bind),
                                supervised_env(cfg, url), Policy(stop_grace_s=grace),
                                broker_ok=broker_answers(url))
        supervisor.run()
    if supervisor.failure:
        raise MarketingTeamError(supervisor.failure)


def _web_ready(cfg: Settings) -> tuple[bool, str]:
    """Whether the webhook app can start, and why not (it refuses to run without a token)."""
    if importlib.util.find_spec("gunicorn") is None:
        return False, "gunicorn is not installed (pip install gunicorn)"
    if cfg.webhook_token is None:
        return False, "MT_WEBHOOK_TOKEN is not set (or run with --no-web)"
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
