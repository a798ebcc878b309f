"""`mtctl reviews list|show|approve|revise|reject` and `mtctl learnings list`."""

from __future__ import annotations

import click

from marketing_team.cli.common import emit_json, say, settings
from marketing_team.cli.watch import export_all, follow, print_summary
from marketing_team.domain.errors import InputError
from marketing_team.domain.review_item import ItemStatus
from marketing_team.domain.values import check_id
from marketing_team.observability import progress
from marketing_team.ops.run_mode import RunMode, store_session
from marketing_team.orchestration import decisions
from marketing_team.orchestration.decisions import Continuation


@click.group("reviews")
def reviews_group() -> None:
    """Human review items created when the team escalates."""


@reviews_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include decided items.")
@click.option("--json", "as_json", is_flag=True)
def reviews_list(show_all: bool, as_json: bool) -> None:
    """Open review items (newest first)."""
    with store_session(settings()) as rt:
        items = rt.reviews.list(None if show_all else ItemStatus.OPEN)
    if as_json:
        emit_json([i.model_dump(mode="json") for i in items])
        return
    if not items:
        say("no review items" + ("" if show_all else " open"))
    for item in items:
        say(f"{item.id}  {item.status.value:<9} {item.reason.value:<19} {item.goal_id}  "
                   f"{item.skill or '—'}")


@reviews_group.command("show")
@click.argument("item_id")
def reviews_show(item_id: str) -> None:
    """One item with the reviewer's findings and the deliverable's path."""
    with store_session(settings()) as rt:
        item = rt.reviews.load(check_id(item_id, "review id"))
    say(f"{item.id}: {item.status.value} ({item.reason.value})")
    say(f"goal {item.goal_id}  task {item.task_id or '—'}  skill {item.skill or '—'}")
    say(f"deliverable: {item.deliverable or '—'}")
    say(item.summary)
    if item.notes:
        say(f"notes: {item.notes}")


def _decide(item_id: str, status: ItemStatus, notes: str, detach: bool) -> None:
    cfg = settings()
    check_id(item_id, "review id")
    with RunMode(cfg) as mode:
        rt, app = mode.runtime, mode.app
        assert rt is not None and app is not None  # set by RunMode.start
        if detach and mode.embedded:
            raise InputError("--detach needs REDIS_URL and running workers (the embedded worker "
                             "stops with this command)")
        goal_id = rt.reviews.load(item_id).goal_id
        # Subscribed before deciding, so no progress the decision sets going is missed.
        sub = progress.Subscription(rt.redis, goal_id)
        try:
            decision = decisions.decide_review(app, rt, item_id, status, notes)
            goal = decision.goal
            if decision.continuation is Continuation.REPUBLISHED:
                say(f"{item_id}: {status.value}; {decision.item.skill} runs again in goal {goal.id}",
                    err=True)
            elif decision.continuation is Continuation.RESUMED:
                say(f"{item_id}: {status.value}; goal {goal.id} resumed", err=True)
            else:
                say(f"{item_id}: {status.value}; goal {goal.id} stays {goal.status.value}")
                if goal.status.is_settled:  # other items still open, or it ended meanwhile
                    export_all(rt, goal.id)
                    return
            # Followed like `mtctl goal`: progress, then the folder exported and a summary.
            print_summary(rt, rt.goals.load(goal.id) if detach else follow(rt, goal.id, sub))
        finally:
            sub.close()


@reviews_group.command("approve")
@click.argument("item_id")
@click.option("--detach", is_flag=True, help="Return at once instead of following the goal.")
@click.option("--notes", default="", help="Why (kept with the item and as a learning).")
def reviews_approve(item_id: str, notes: str, detach: bool) -> None:
    """Approve the deliverable as it is; the paused pipeline continues."""
    _decide(item_id, ItemStatus.APPROVED, notes, detach)


@reviews_group.command("revise")
@click.argument("item_id")
@click.option("--detach", is_flag=True, help="Return at once instead of following the goal.")
@click.option("--notes", required=True, help="What to change; the skill's next prompt carries it.")
def reviews_revise(item_id: str, notes: str, detach: bool) -> None:
    """Re-run the skill with your notes."""
    _decide(item_id, ItemStatus.REVISED, notes, detach)


@reviews_group.command("reject")
@click.argument("item_id")
@click.option("--detach", is_flag=True, help="Return at once instead of following the goal.")
@click.option("--notes", default="")
def reviews_reject(item_id: str, notes: str, detach: bool) -> None:
    """Fail the task; the goal continues without it."""
    _decide(item_id, ItemStatus.REJECTED, notes, detach)


@click.group("learnings")
def learnings_group() -> None:
    """What the team learned from outcomes."""


@learnings_group.command("list")
@click.option("--skill", default=None, help="Only this skill (or 'director').")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def learnings_list(skill: str | None, limit: int, as_json: bool) -> None:
    """The newest learnings, newest first."""
    with store_session(settings()) as rt:
        items = (rt.learnings.for_skill(skill, limit, offline=rt.offline) if skill
                 else rt.learnings.recent(limit))
    if as_json:
        emit_json([i.model_dump(mode="json") for i in items])
        return
    if not items:
        say("no learnings yet")
    for item in items:
        mark = "  (offline run)" if item.offline else ""
        say(f"{item.timestamp:%Y-%m-%d %H:%M}  {item.skill:<26} {item.outcome.value:<8} {item.lesson}{mark}")


def register(cli: click.Group) -> None:
    """Add the review and learning commands to mtctl."""
    cli.add_command(reviews_group)
    cli.add_command(learnings_group)
