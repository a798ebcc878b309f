"""`mtctl up`: run worker, beat and web as child processes, restart any that exits, stop all on a signal."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import redis

from marketing_team.config.settings import Settings
from marketing_team.observability.processes import is_alive
from marketing_team.ops.embedded import EmbeddedServer, ping
from marketing_team.ops.orphans import die_with_parent, record_children
from marketing_team.store.connection import redis_py_url
from marketing_team.store.workspace import atomic_write

log = logging.getLogger(__name__)
BEAT_SCHEDULER = "marketing_team.orchestration.beat:Scheduler"
GUNICORN_CONFIG = "python:marketing_team.web.gunicorn_conf"  # gthread, timeouts, JSON logs
WSGI_APP = "marketing_team.web.wsgi:app"
POLL_S = 0.2
FIRST_BACKOFF_S = 0.5


@dataclass(frozen=True)
class ChildSpec:
    """A named command line to keep running."""

    name: str
    argv: tuple[str, ...]
    # What the kernel sends the child when `mtctl up` dies: Celery's worker and gunicorn shut
    # down cold on SIGQUIT (the worker requeues its tasks at once), beat saves on SIGTERM.
    death_signal: int = signal.SIGTERM


@dataclass
class Child:
    """One supervised child: its process and its recent history of exits."""

    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    next_start: float = 0.0
    fast_exits: int = 0  # exits in a row, each soon after starting: drives the backoff
    crashes: int = 0  # those of them while the broker answered: drives giving up
    restarts: int = 0


@dataclass
class Policy:
    """How children are restarted and stopped."""

    backoff_max_s: float = 30.0
    stable_after_s: float = 30.0  # a child that ran this long starts over with the shortest backoff
    max_fast_exits: int = 10  # this many exits in a row, each sooner than stable_after_s: give up
    stop_grace_s: float = 10.0  # SIGTERM (warm shutdown: running tasks finish) before SIGQUIT


def _up_file(settings: Settings) -> Path:
    return settings.workspace / ".state" / "up.pid"


def default_node_name() -> str:
    """Celery's own default worker name, `celery@<host>`, spelled out so it can be checked."""
    return f"celery@{socket.gethostname()}"


def node_name(name: str | None) -> str:
    """The worker's node name with `%h` expanded (Celery expands it too; we must compare it)."""
    return (name or default_node_name()).replace("%h", socket.gethostname())


def children_pidfile(settings: Settings, node: str) -> Path:
    """Where `mtctl up` for this node records its children, for reaping after a SIGKILL."""
    safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in node)
    return settings.workspace / ".state" / f"up-{safe}.children"


def mark_up(settings: Settings) -> None:
    """Record that this process is `mtctl up` serving the workspace's embedded server."""
    atomic_write(_up_file(settings), f"{os.getpid()}\n")


def unmark_up(settings: Settings) -> None:
    """Remove the record (on the way out of `mtctl up`)."""
    _up_file(settings).unlink(missing_ok=True)


def embedded_url(settings: Settings) -> str | None:
    """The broker URL of the server a live `mtctl up` runs for this workspace (no REDIS_URL).

    Only a server whose `mtctl up` is alive counts: a server orphaned by a killed `mtctl goal`
    has no workers, and the next command's own start reaps it instead.
    """
    try:
        owner = int(_up_file(settings).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    server = EmbeddedServer(settings.workspace / ".state")
    if not is_alive(owner) or not ping(str(server.socket_path)):
        return None
    return server.broker_url


def celery_argv(*args: str) -> tuple[str, ...]:
    """`celery -A marketing_team …` run by this interpreter (the same venv as mtctl)."""
    return (sys.executable, "-m", "celery", "-A", "marketing_team", *args)


def child_specs(settings: Settings, *, beat: bool = True, web: bool = True,
                bind: str = "127.0.0.1:8000", node: str | None = None) -> list[ChildSpec]:
    """The worker (threads pool, both queues), beat (redbeat, one firer) and the webhook app."""
    specs = [ChildSpec("worker", celery_argv(
        "worker", "--pool", "threads", "--concurrency", str(settings.max_parallel_agents),
        "-Q", "skills,director", "--without-mingle", "--without-gossip", "-l", settings.log_level,
        "-n", node_name(node)), signal.SIGQUIT)]
    if beat:
        specs.append(ChildSpec("beat", celery_argv("beat", "-S", BEAT_SCHEDULER, "-l", settings.log_level)))
    if web:
        specs.append(ChildSpec("web", (sys.executable, "-m", "gunicorn", WSGI_APP,
                                       "--config", GUNICORN_CONFIG, "--bind", bind), signal.SIGQUIT))
    return specs


def broker_answers(url: str) -> Callable[[], bool]:
    """A check that the broker at url answers PING within a second."""

    def check() -> bool:
        """True when PING is answered."""
        client = redis.Redis.from_url(redis_py_url(url), socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    return check


def supervised_env(settings: Settings, broker_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: ours, plus the broker URL and an absolute workspace."""
    env = dict(os.environ)
    env.update({"REDIS_URL": broker_url, "WORKSPACE_DIR": str(settings.workspace)})
    env.update(extra or {})
    return env


class Supervisor:
    """Keeps each child running until told to stop; call run() from the main thread."""

    def __init__(self, specs: Sequence[ChildSpec], env: Mapping[str, str], policy: Policy | None = None,
                 cwd: Path | None = None, broker_ok: Callable[[], bool] | None = None,
                 pidfile: Path | None = None) -> None:
        self.children = [Child(spec) for spec in specs]
        # The running children's pids, rewritten on every start: the next `mtctl up` stops any
        # that outlived a SIGKILL of this one (reap_leftovers) before starting its own.
        self.pidfile = pidfile
        # Children exit while Redis is down (a worker holding unacknowledged work, beat): such
        # exits back off but never count toward giving up, or a long outage would stop the team.
        self.broker_ok = broker_ok
        self.env = dict(env)
        self.policy = policy or Policy()
        self.cwd = cwd
        self.failure: str | None = None
        # Plain attributes, not an Event: a signal handler must not take locks the loop may hold.
        self._stopping = False
        self._signals = 0

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        """Stop all children (a second request skips the grace period)."""
        self._signals += 1
        self._stopping = True

    def run(self) -> int:
        """Supervise until a signal or a crash loop; returns the exit code (0 after a clean stop)."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not self._stopping:
                self._tick(time.monotonic())
                time.sleep(POLL_S)
        finally:
            self._stop_all()
            if self.pidfile is not None:
                self.pidfile.unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if self.failure else 0

    def _tick(self, now: float) -> None:
        for child in self.children:
            if child.proc is None:
                if now >= child.next_start:
                    self._start(child, now)
            elif (code := child.proc.poll()) is not None:
                self._exited(child, code, now)

    def _start(self, child: Child, now: float) -> None:
        try:
            child.proc = subprocess.Popen(child.spec.argv, env=self.env, cwd=self.cwd,
                                          stdin=subprocess.DEVNULL,
                                          preexec_fn=die_with_parent(child.spec.death_signal))
        except OSError as exc:
            self._exited(child, None, now, f"could not start: {exc}")
            return
        child.started_at = now
        if self.pidfile is not None:
            record_children(self.pidfile, [(c.spec.name, c.proc.pid) for c in self.children
                                           if c.proc is not None])
        log.info("%s started (pid %d)", child.spec.name, child.proc.pid, extra={
            "event": "child_started", "child": child.spec.name, "pid": child.proc.pid,
            "restarts": child.restarts})

    def _exited(self, child: Child, code: int | None, now: float, why: str = "") -> None:
        child.proc = None
        lived = now - child.started_at
        stable = lived >= self.policy.stable_after_s
        child.fast_exits = 1 if stable else child.fast_exits + 1
        outage = self.broker_ok is not None and not self.broker_ok()
        child.crashes = 0 if stable else child.crashes + (0 if outage else 1)
        why = why or (f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}")
        if outage:
            why += ", Redis unreachable"
        if child.crashes > self.policy.max_fast_exits:
            self.failure = (f"{child.spec.name} exited {child.crashes} times in a row, each within "
                            f"{self.policy.stable_after_s:g} s of starting (last: {why}); giving up")
            log.error(self.failure, extra={"event": "child_given_up", "child": child.spec.name})
            self._stopping = True
            return
        delay = min(FIRST_BACKOFF_S * 2 ** (child.fast_exits - 1), self.policy.backoff_max_s)
        child.next_start = now + delay
        child.restarts += 1
        log.warning("%s stopped (%s) after %.1f s; restarting in %.1f s", child.spec.name, why, lived,
                    delay, extra={"event": "child_exited", "child": child.spec.name, "code": code,
                                  "restart_in_s": delay})

    def _stop_all(self) -> None:
        """SIGTERM all, then SIGQUIT (Celery's cold shutdown requeues), then SIGKILL."""
        # Children with a process, also those that already exited on the terminal's Ctrl-C.
        running = [c for c in self.children if c.proc is not None]
        if not running:
            return
        log.info("stopping %s", ", ".join(c.spec.name for c in running), extra={"event": "stopping"})
        for sig, grace in ((signal.SIGTERM, self.policy.stop_grace_s), (signal.SIGQUIT, 5.0),
                           (signal.SIGKILL, 5.0)):
            for child in running:
                if child.proc is not None and child.proc.poll() is None:
                    child.proc.send_signal(sig)
            deadline = time.monotonic() + grace
            while any(c.proc is not None and c.proc.poll() is None for c in running):
                # A second Ctrl-C or SIGTERM while waiting means "now": skip to the next signal.
                if time.monotonic() > deadline or self._signals > 1:
                    break
                time.sleep(0.05)
            else:
                break
            self._signals = 1
        for child in running:
            code = child.proc.wait() if child.proc is not None else None
            log.info("%s stopped", child.spec.name, extra={"event": "child_stopped",
                                                           "child": child.spec.name, "code": code})


__all__ = ["ChildSpec", "Policy", "Supervisor", "broker_answers", "child_specs", "children_pidfile",
           "default_node_name", "embedded_url", "node_name", "supervised_env"]
