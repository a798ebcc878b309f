"""docker-compose.yml: the Procfile's commands, durable Redis, no shared disk, restarts; Docker validates it."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from marketing_team.testing.processes import REPO_ROOT
from tests.ops.conftest import procfile


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return loaded


def _docker_compose() -> list[str] | None:
    """The compose command that works here: `docker compose`, else `docker-compose`, else None."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return command
    return None


def test_compose_commands_are_the_procfile_commands() -> None:
    services = _compose()["services"]
    for name, command in procfile().items():
        shell, flag, line = services[name]["command"]
        # Compose would expand $VAR itself; $$ hands the variable to the container's shell.
        assert (shell, flag) == ("sh", "-c")
        assert line.replace("$$", "$") == command, name


def test_compose_runs_durable_redis_and_restarts_every_service_sharing_no_disk() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"redis", "worker", "beat", "web", "flower"}
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        if name != "redis":
            assert "volumes" not in service, f"{name} must not need a disk: Redis is the record"
            assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert set(compose["volumes"]) == {"redis-data"}


def test_compose_config_validates_with_docker() -> None:
    command = _docker_compose()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` works on this machine")
    env = {**os.environ, "MT_FLOWER_PASSWORD": "validate-only"}
    result = subprocess.run([*command, "-f", str(REPO_ROOT / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
