"""Workers on many machines with no shared disk: Redis is the record, the CLI's folder is an export.

Each worker gets a WORKSPACE_DIR of its own (two machines without NFS); goals are started with
`mtctl goal` from a third directory. Real worker processes, a real server, no shared files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from marketing_team.config.settings import load_settings
from marketing_team.director.launch import plan_pipeline
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.goal import GoalStatus, Priority
from marketing_team.orchestration import dispatch
from marketing_team.orchestration.app import build_app
from marketing_team.orchestration.control import ping_workers
from marketing_team.testing.fake_anthropic import FakeAnthropic, RecordedRequest
from marketing_team.testing.processes import child_env, spawn_worker, stop, wait_for
from marketing_team.testing.servers import RunningServer
from marketing_team.testing.team_responder import offline_responder, skill_of

TEXTS = ["Increase signup conversion by 20%", "Improve checkout conversion this quarter",
         "Lift trial conversion on the pricing page", "Increase demo request conversion",
         "Raise newsletter signup conversion"]
KEY = "sk-ant-test-machines-0000"


def _workers_ready(server: RunningServer, names: set[str]) -> None:
    app = build_app(load_settings(_env_file=None, redis_url=server.url), server.broker_url)
    wait_for(lambda: names <= {n.split("@")[0] for n in ping_workers(app, 1.0, first_only=False)}, 60,
             f"workers {sorted(names)} to answer")


@pytest.fixture
def two_workers(redis_server: RunningServer, redis_client: redis.Redis,
                tmp_path: Path) -> Iterator[tuple[dict[str, subprocess.Popen[bytes]], dict[str, str]]]:
    """Two worker processes, each with its own empty WORKSPACE_DIR, on one server."""
    base = {"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING"}
    procs = {name: spawn_worker({**base, "WORKSPACE_DIR": str(tmp_path / name)},
                                tmp_path / f"{name}.log", concurrency=4, name=name)
             for name in ("w1", "w2")}
    try:
        _workers_ready(redis_server, set(procs))
        yield procs, base
    finally:
        for proc in procs.values():
            stop(proc)


def _start_goals(env: dict[str, str], cli_dir: Path) -> list[subprocess.Popen[bytes]]:
    """`mtctl goal` for each of the five texts, from a directory no worker uses."""
    run_env = child_env({**env, "WORKSPACE_DIR": str(cli_dir)})
    return [subprocess.Popen([sys.executable, "-m", "marketing_team", "goal", text, "--json"],
                             env=run_env, cwd=cli_dir.parent, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for text in TEXTS]


def _results(procs: list[subprocess.Popen[bytes]], timeout_s: float) -> list[dict[str, Any]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout_s)
        assert proc.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out))
    return results


def _goals_from_a_third_directory(env: dict[str, str], cli_dir: Path) -> list[dict[str, Any]]:
    return _results(_start_goals(env, cli_dir), 240)


def _workers_that_ran(client: redis.Redis) -> set[str]:
    found = set()
    for key in client.scan_iter("celery-task-meta-*"):
        meta = json.loads(client.get(key) or b"{}")
        if meta.get("worker"):
            found.add(str(meta["worker"]).split("@")[0])
    return found


def _assert_exported_and_nothing_on_the_workers(rt: Runtime, results: list[dict[str, Any]],
                                                worker_dirs: list[Path]) -> None:
    for data in results:
        assert data["status"] == "completed", data
        folder = Path(data["folder"])
        documents = rt.documents.all(data["goal_id"])
        goal = rt.goals.load(data["goal_id"])
        assert any(p.parallel for p in goal.plan.phases)
        assert {t.output for t in goal.tasks} <= set(documents)
        for name, text in documents.items():
            assert (folder / name).read_text() == text
        assert (folder / "summary.md").is_file()
    for directory in worker_dirs:
        assert not directory.exists() or not any(directory.rglob("*")), list(directory.rglob("*"))


def test_two_workers_with_their_own_disks_run_five_goals_started_from_a_third_directory(
        two_workers: tuple[dict[str, subprocess.Popen[bytes]], dict[str, str]],
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    procs, env = two_workers

    results = _goals_from_a_third_directory(env, tmp_path / "cli")

    rt = build_runtime(load_settings(_env_file=None, redis_url=redis_server.url,
                                     workspace_dir=tmp_path / "cli"), redis_server.broker_url)
    _assert_exported_and_nothing_on_the_workers(rt, results, [tmp_path / "w1", tmp_path / "w2"])
    assert _workers_that_ran(redis_client) == {"w1", "w2"}, "both workers must have consumed"


@pytest.mark.slow
def test_one_of_two_workers_sigkilled_mid_skill_all_five_goals_still_complete(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    killed: list[int] = []

    def delay(request: RecordedRequest) -> float:
        # Copywriting calls are slow until the kill: whichever lease is found, its holder is
        # in the middle of a model call when it dies.
        return 6.0 if skill_of(request) == "copywriting" and not killed else 0.0

    with FakeAnthropic(responder=offline_responder(delay)) as fake:
        # Short limits: the dead worker's message returns after the visibility timeout (3 x hard).
        env = {"REDIS_URL": redis_server.url, "LOG_LEVEL": "WARNING", "ANTHROPIC_API_KEY": KEY,
               "ANTHROPIC_BASE_URL": fake.url, "MT_LLM_MAX_RETRIES": "0",
               "MT_SOFT_TIME_LIMIT": "5", "MT_HARD_TIME_LIMIT": "35"}
        procs = {name: spawn_worker({**env, "WORKSPACE_DIR": str(tmp_path / name)},
                                    tmp_path / f"{name}.log", concurrency=4, name=name)
                 for name in ("w1", "w2")}
        try:
            _workers_ready(redis_server, set(procs))
            clis = _start_goals(env, tmp_path / "cli")
            # When a worker in the middle of a copywriting call (6 s) is killed outright
            holder = wait_for(lambda: _lease_holder(redis_client), 120, "a copywriting call")
            victim = next(p for p in procs.values() if p.pid == holder)
            os.killpg(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)
            results = _results(clis, 400)
        finally:
            for proc in procs.values():
                stop(proc)
        # Then the other worker finishes all five goals; nothing landed on either worker's disk
        rt = build_runtime(load_settings(_env_file=None, redis_url=redis_server.url,
                                         workspace_dir=tmp_path / "cli"), redis_server.broker_url)
        _assert_exported_and_nothing_on_the_workers(rt, results, [tmp_path / "w1", tmp_path / "w2"])


def _lease_holder(client: redis.Redis) -> int | None:
    for key in client.scan_iter("mt:lease:skill:copywriting-*"):
        holder = (client.hget(key, "holder") or b"").decode()
        pid = holder.split(":")[1] if holder.count(":") >= 2 else ""
        if pid.isdigit():
            return int(pid)
    return None


def test_a_worker_with_another_catalog_refuses_the_goal_by_name(
        redis_server: RunningServer, redis_client: redis.Redis, tmp_path: Path) -> None:
    # Given the only worker runs a catalog where copywriting was overridden
    catalog = tmp_path / "catalog" / "skills" / "copywriting"
    catalog.mkdir(parents=True)
    (catalog / "SKILL.md").write_text("---\nname: copywriting\ndescription: House copy rules\n"
                                      "squad: creative\nmin_words: 50\n---\n## Headline\nWrite one.\n")
    worker = spawn_worker({"REDIS_URL": redis_server.url, "WORKSPACE_DIR": str(tmp_path / "w"),
                           "MT_CATALOG_DIR": str(tmp_path / "catalog"), "LOG_LEVEL": "WARNING"},
                          tmp_path / "worker.log", name="other")
    try:
        _workers_ready(redis_server, {"other"})
        settings = load_settings(_env_file=None, redis_url=redis_server.url,
                                 workspace_dir=tmp_path / "cli")
        rt = build_runtime(settings, redis_server.broker_url)
        goal = plan_pipeline(rt, "Copywriting Review Chain", Priority.P1)
        rt.goals.create(goal)

        # When the goal planned with the package catalog is published
        dispatch.start(build_app(settings, redis_server.broker_url), rt, goal.id)

        # Then the worker refuses its task, and the goal fails naming both catalogs
        done = wait_for(lambda: (g := rt.goals.load(goal.id)).status.is_settled and g, 60, "the goal")
    finally:
        stop(worker)
    assert done.status is GoalStatus.FAILED
    assert goal.catalog_fingerprint in done.status_reason and "catalog" in done.status_reason
    assert rt.documents.all(goal.id) == {}  # no skill ran under the other catalog
