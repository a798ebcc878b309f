"""The product context's source: the user's context/product.md, sent to Redis when it changes.

Also the two ways a context starts: the commented template, and the product-marketing-context
deliverable an earlier goal drafted (`mtctl init --from <goal-id>`).
"""

from __future__ import annotations

from marketing_team.director.runtime import Runtime
from marketing_team.domain.errors import InputError, NotFoundError
from marketing_team.domain.goal import Goal, TaskRecord
from marketing_team.domain.product_template import is_unfilled
from marketing_team.domain.values import check_id
from marketing_team.llm.offline import OfflineProvider
from marketing_team.store import frontmatter
from marketing_team.store.context import ContextRecord, fingerprint
from marketing_team.store.goals import Unreadable

FOUNDATION = "product-marketing-context"
# How many of the newest goals `mtctl init` looks through for a drafted context: one read each.
DRAFT_SEARCH_LIMIT = 50


def send_file(rt: Runtime) -> ContextRecord | None:
    """Send context/product.md to Redis as it is now; None when there is no such file."""
    text = rt.workspace.read_context_file()
    if text is None:
        return None
    return rt.context.set(text, str(rt.workspace.context_file))


def sync_from_file(rt: Runtime) -> str | None:
    """Send context/product.md when it changed since it was last sent; returns what to tell the user.

    The file wins when it changed: an edited file replaces whatever context Redis holds. An
    unchanged file leaves alone a context sent since from elsewhere (`mtctl context set`, another
    machine), and without a file the context in Redis stays as it is. While the team's context is
    the unfilled template the answer is a warning, every time: the run works without a context.
    """
    text = rt.workspace.read_context_file()
    if text is None:
        return None
    source = str(rt.workspace.context_file)
    stored = rt.context.record()
    note: str | None = None
    if stored is None or fingerprint(text) not in (stored.sha, rt.context.last_sent_by(source)):
        rt.context.set(text, source)
        verb = "changed since it was last sent" if stored is not None else "was new to the team's store"
        note = f"{rt.workspace.context_file} {verb}: sent to Redis (the file wins over the stored copy)"
    warning = unfilled_warning(rt, text)
    if warning is None:
        return note
    return warning if note is None else f"{warning} (the file was sent to Redis)"


def unfilled_warning(rt: Runtime, text: str | None = None) -> str | None:
    """One line when the team works without a context because the file is the unfilled template."""
    text = rt.workspace.read_context_file() if text is None else text
    if text is None or not is_unfilled(text) or rt.context.get():
        return None  # no file, a filled one, or a context sent from elsewhere that skills do read
    return (f"warning: {rt.workspace.context_file} is still the unfilled template, so skills get "
            f"no product context and each plan starts with {FOUNDATION}; fill it in, or start it "
            f"from a goal's draft with `mtctl init --from <goal-id>`")


def _drafting_task(goal: Goal) -> TaskRecord | None:
    """The goal's product-marketing-context task once it wrote something, else None."""
    return next((t for t in goal.tasks if t.skill == FOUNDATION and t.output is not None), None)


def drafted_context(rt: Runtime, goal_id: str) -> str:
    """The product context goal_id drafted (its deliverable without front matter).

    A draft the offline provider wrote is refused: it holds no fact about the product, and as
    the team's context it would reach every later real prompt.
    """
    try:
        goal = rt.goals.load(check_id(goal_id, "goal id"))
    except NotFoundError:
        raise NotFoundError(f"no goal {goal_id} in the team's store (see `mtctl goals list`)") from None
    task = _drafting_task(goal)
    text = None if task is None or task.output is None else rt.documents.get(goal.id, task.output)
    if task is None or task.output is None or text is None:
        raise InputError(f"goal {goal_id} drafted no product context (its plan had no {FOUNDATION} "
                         "step, or the step wrote nothing)")
    if task.model == OfflineProvider.name:
        raise InputError(f"goal {goal_id}'s product context was written by the offline provider "
                         "(no model), so it holds no facts about your product; run a goal with a "
                         "model and no context, or fill in context/product.md yourself")
    return frontmatter.parse(text, task.output)[1].lstrip("\n")


def newest_draft(rt: Runtime) -> str | None:
    """The id of the newest goal whose product context a model drafted, or None."""
    for goal in rt.goals.recent(limit=DRAFT_SEARCH_LIMIT):
        if isinstance(goal, Unreadable):
            continue
        task = _drafting_task(goal)
        if task is not None and task.model != OfflineProvider.name:
            return goal.id
    return None
