"""Log lines inside a task carry its ids: the context provider the logs module asks, fed by Celery."""

from __future__ import annotations

from celery._state import get_current_task

from marketing_team.observability.logs import set_context_provider, task_ids


def task_context() -> dict[str, object]:
    """goal_id, task_id, skill, celery_task_id and task_name of the task this thread runs."""
    task = get_current_task()
    if task is None or task.request is None or task.request.id is None:
        return {}
    request = task.request
    found: dict[str, object] = {"celery_task_id": request.id, "task_name": task.name}
    if isinstance(task.name, str) and task.name.startswith("skills."):
        found["skill"] = task.name.removeprefix("skills.")
    goal_id, task_id = task_ids(request.args, request.kwargs)
    found["goal_id"], found["task_id"] = goal_id, task_id
    return found


def install() -> None:
    """Make every log record written inside a task carry the task's ids."""
    set_context_provider(task_context)
