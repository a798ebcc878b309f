"""Running a goal from a command: start it, follow it, stop it cleanly, report it."""

from __future__ import annotations

from collections.abc import Callable

import click

from marketing_team.cli.common import emit_json, say
from marketing_team.cli.watch import follow, goal_summary, print_summary
from marketing_team.director import export, flow
from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import DispatchRefusedError, InputError
from marketing_team.domain.goal import Goal, GoalStatus, Priority
from marketing_team.observability import logs, progress
from marketing_team.ops.run_mode import RunMode
from marketing_team.orchestration import dispatch

DRAIN_S = 30.0  # how long Ctrl-C waits for calls in flight, so what they cost is recorded


def run_goal(mode: RunMode, goal: Goal, detach: bool, as_json: bool) -> None:
    rt, app = mode.runtime, mode.app
    assert rt is not None and app is not None  # set by RunMode.start
    if detach and mode.embedded:
        raise InputError("--detach needs REDIS_URL and running workers (the embedded worker "
                         "stops with this command)")
    rt.goals.create(goal)
    # A refusal to write from here on names the goal and how to resume it (cli/main.py).
    click.get_current_context().meta["mt.goal_id"] = goal.id
    sub = progress.Subscription(rt.redis, goal.id)
    if detach:
        try:
            dispatch.start(app, rt, goal.id)
        finally:
            sub.close()
        report(rt, rt.goals.load(goal.id), as_json)
        return

    def start() -> None:
        if not as_json:
            say(f"Goal {goal.id}: {len(goal.plan.phases)} phases, {len(goal.tasks)} tasks "
                f"({goal.category}, {goal.priority}) -> {export.goal_folder(rt, goal.id)}", err=True)
        dispatch.start(app, rt, goal.id)

    try:
        final = follow_goal(mode, goal.id, sub, as_json, start)
    finally:
        sub.close()
    finish(mode, final, as_json)


def follow_goal(mode: RunMode, goal_id: str, sub: progress.Subscription, as_json: bool,
            start: Callable[[], object]) -> Goal:
    """Start the goal and follow it. However this command is stopped while its own worker runs
    the goal (Ctrl-C, SIGTERM, SIGHUP, the reader of its output gone), the goal is left
    `interrupted` and resumable, never `running` with nobody to run it, and calls in flight are
    let finish so what they cost is recorded."""
    rt = mode.runtime
    assert rt is not None
    if mode.worker is not None:
        logs.divert_worker_threads(rt.workspace.root / "logs" / "worker.log")
    try:
        start()
        return follow(rt, goal_id, sub, quiet=as_json)
    except KeyboardInterrupt:
        if mode.worker is None:  # the workers are elsewhere and go on without this terminal
            say(f"stopped following; goal {goal_id} goes on on the workers: "
                f"`mtctl goals show {goal_id}`", err=True)
            raise SystemExit(130) from None
        goal = flow.interrupt(rt, goal_id, f"interrupted; resume with `mtctl goals resume {goal_id}`")
        _drain(mode, as_json)
        return goal
    except (SystemExit, BrokenPipeError):
        if mode.worker is not None:  # a signal or a closed pipe: stop the same way, silently
            flow.interrupt(rt, goal_id, f"stopped by a signal or a closed output; resume with "
                                        f"`mtctl goals resume {goal_id}`")
            _drain(mode, quiet=True)
        raise


def _drain(mode: RunMode, quiet: bool) -> None:
    """Let calls in flight finish and be recorded before this process (and its worker) ends."""

    def waiting(count: int) -> None:
        if not quiet:
            say(f"waiting up to {DRAIN_S:.0f} s for {count} call(s) in flight to finish and be "
                "recorded (Ctrl-C again to stop now)", err=True)

    abandoned = mode.drain(DRAIN_S, waiting)
    if abandoned and not quiet:
        say(f"{abandoned} call(s) abandoned: their budget holds lapse on their own", err=True)


def finish(mode: RunMode, final: Goal, as_json: bool) -> None:
    """Report the goal (one line when interrupted) and exit non-zero unless it completed."""
    rt = mode.runtime
    assert rt is not None
    if final.status is GoalStatus.INTERRUPTED:
        if as_json:
            emit_json(goal_summary(rt, final))
        else:
            say(f"Goal {final.id} interrupted: resume it with `mtctl goals resume {final.id}`",
                err=True)
        # click's own exit: the JSON object is printed already, the edge adds no second one
        click.get_current_context().exit(130)
    _drain(mode, as_json)
    report(rt, final, as_json)
    if final.status is not GoalStatus.COMPLETED:
        raise SystemExit(1)


def refuse_unless_healthy(mode: RunMode, priority: Priority) -> None:
    """Publishing to other workers: refuse, saying why, when health does not allow the priority.

    Checked before planning, so a refused goal costs no planning call and writes nothing.
    """
    if mode.embedded or mode.run_worker:
        return  # this command runs its own worker
    assert mode.runtime is not None and mode.app is not None
    from marketing_team.ops.health import check  # redbeat and beat: only with outside workers

    allowed, reason = check(mode.runtime, mode.app, expect_beat=False).allows(priority)
    if not allowed:
        raise DispatchRefusedError(f"not dispatched: {reason}")


def report(rt: Runtime, goal: Goal, as_json: bool) -> None:
    if as_json:
        emit_json(goal_summary(rt, goal))
    else:
        print_summary(rt, goal)
