"""Messages that come twice (crash before the ack) never lose a phase nor run a task twice."""

from __future__ import annotations

import threading

from marketing_team.director import human_review, phases, skill_run
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.phases import Move
from marketing_team.domain.goal import Goal, GoalStatus, TaskStatus
from marketing_team.domain.review_item import ItemStatus, Reason
from marketing_team.orchestration import dispatch
from marketing_team.testing.team import Team


def _saved(team: Team) -> Goal:
    goal = plan_pipeline(team.rt, "SEO Cycle")
    team.rt.goals.create(goal)
    return goal


def _approve_phase(team: Team, goal_id: str, index: int) -> None:
    def change(g: Goal) -> None:
        for t in g.phase_tasks(index):
            t.status = TaskStatus.APPROVED

    team.rt.goals.update(goal_id, change)


def test_concurrent_joins_of_one_phase_claim_the_next_phase_once(idle: Team) -> None:
    goal = _saved(idle)
    dispatch.start(idle.app, idle.rt, goal.id)
    _approve_phase(idle, goal.id, 0)

    # When the join arrives twice at once (a redelivery, or the join and the last task out)
    moves: list[Move] = []
    threads = [threading.Thread(target=lambda: moves.append(phases.advance(idle.rt, goal.id, 0, 0)[1]))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one of them was told to publish phase 2, recorded before anything is published
    assert sorted(moves) == sorted([Move.PUBLISH, Move.NONE, Move.NONE, Move.NONE])
    after = idle.rt.goals.load(goal.id)
    assert (after.current_phase, after.dispatched_phase) == (1, 1)
    assert phases.advance(idle.rt, goal.id, 0, 0)[1] is Move.NONE


def test_a_join_of_an_earlier_run_changes_nothing(idle: Team) -> None:
    goal = _saved(idle)
    dispatch.start(idle.app, idle.rt, goal.id)
    _approve_phase(idle, goal.id, 0)
    phases.reopen(idle.rt, goal.id)  # a resume: run 1

    assert phases.advance(idle.rt, goal.id, 0, 0)[1] is Move.NONE  # run 0's join
    assert idle.rt.goals.load(goal.id).current_phase == 0


def test_an_error_callback_of_an_earlier_run_changes_nothing(idle: Team) -> None:
    goal = _saved(idle)
    dispatch.start(idle.app, idle.rt, goal.id)
    phases.reopen(idle.rt, goal.id)  # a resume: run 1
    crashed = idle.app.tasks["director.task_crashed"]

    # When run 0's canvas reports a crashed member (its errback arrives late)
    crashed(None, RuntimeError("a leftover of run 0"), None, goal.id, 0)

    # Then the resumed goal runs on; the same callback of the current run does fail it
    assert idle.rt.goals.load(goal.id).status is GoalStatus.RUNNING
    crashed(None, RuntimeError("boom"), None, goal.id, 1)
    failed = idle.rt.goals.load(goal.id)
    assert failed.status is GoalStatus.FAILED and "RuntimeError: boom" in failed.status_reason


def test_second_copy_of_a_running_task_does_not_run_it_again(idle: Team) -> None:
    goal = _saved(idle)
    task = goal.tasks[0]
    dispatch.start(idle.app, idle.rt, goal.id)
    first = skill_run.claim(idle.rt, goal.id, task.id, 0)
    assert first.action == "run" and first.lease is not None

    # A copy of its message arrives while the first still runs (its lease renewed): busy
    assert skill_run.claim(idle.rt, goal.id, task.id, 0).action == "busy"
    # and a copy from before a resume is stale
    skill_run.release(idle.rt, first)
    phases.reopen(idle.rt, goal.id)
    assert skill_run.claim(idle.rt, goal.id, task.id, 0).action == "stale"


def test_resume_of_a_goal_whose_phases_all_ran_settles_it_without_crashing(idle: Team) -> None:
    goal = _saved(idle)

    def all_ran(g: Goal) -> None:
        for t in g.tasks:
            t.status = TaskStatus.APPROVED
        g.current_phase = len(g.plan.phases)
        g.status = GoalStatus.FAILED  # the watchdog failed it after its finish was lost

    idle.rt.goals.update(goal.id, all_ran)
    phases.reopen(idle.rt, goal.id)
    done = dispatch.start(idle.app, idle.rt, goal.id)
    assert done.status is GoalStatus.COMPLETED


def test_cascade_review_item_on_a_failed_task_can_be_decided(idle: Team) -> None:
    goal = _saved(idle)
    task = goal.tasks[0]

    def failed(g: Goal) -> None:
        g.task(task.id).status = TaskStatus.FAILED

    idle.rt.goals.update(goal.id, failed)
    item = idle.rt.reviews.new_item(goal.id, Reason.CASCADING_FAILURE, "3 failures",
                                    task_id=task.id, skill=task.skill)
    idle.rt.reviews.save(item)
    decided = human_review.human_decision(idle.rt, item.id, ItemStatus.APPROVED)
    assert decided.item.status is ItemStatus.APPROVED
    assert idle.rt.goals.load(goal.id).task(task.id).status is TaskStatus.FAILED


def test_the_last_join_delivered_many_times_at_once_records_one_director_learning(idle: Team) -> None:
    # Given a goal whose every task is approved, waiting only for its last phase's join
    goal = _saved(idle)
    last = len(goal.plan.phases) - 1

    def all_but_the_join(g: Goal) -> None:
        for t in g.tasks:
            t.status = TaskStatus.APPROVED
        g.status = GoalStatus.RUNNING
        g.current_phase = g.dispatched_phase = last

    idle.rt.goals.update(goal.id, all_but_the_join)

    # When eight copies of that join run at once (redeliveries, a resume, the sweeper)
    moves: list[Move] = []
    barrier = threading.Barrier(8)

    def join() -> None:
        barrier.wait()
        moves.append(phases.advance(idle.rt, goal.id, last, goal.run)[1])

    threads = [threading.Thread(target=join) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # Then the goal finished once, with one learning of the Director's
    assert sorted(moves) == sorted([Move.FINISH] + [Move.NONE] * 7)
    assert idle.rt.goals.load(goal.id).status is GoalStatus.COMPLETED
    director = [entry for entry in idle.rt.learnings.for_skill("director", 50, offline=True)
                if entry.goal_id == goal.id]  # an offline goal's learning, kept apart
    assert len(director) == 1
