"""`mtctl pipelines list`: every template with its step count, default priority and description."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marketing_team.catalog.loader import load_catalog_from
from marketing_team.cli.main import cli

USER_PIPELINE = """
    pipelines:
      - name: Weekly Digest
        description: "Summarise the week's posts into one email."
        category: content
        priority: P3
        steps:
          - skill: copywriting
          - review: director
    """


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return {"WORKSPACE_DIR": str(tmp_path / "ws"), "MT_CATALOG_DIR": None, "REDIS_URL": None}


def _run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def test_pipelines_list_json_has_every_template_with_steps_priority_and_description(
        env: dict[str, str | None]) -> None:
    result = _run(env, "pipelines", "list", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    catalog = load_catalog_from(None)
    assert [p["name"] for p in listed] == list(catalog.pipelines)
    content = next(p for p in listed if p["name"] == "Content Production")
    assert (content["steps"], content["priority"], content["category"]) == (4, "P2", "content")
    assert content["description"].startswith("Plan a batch of content")
    assert content["skills"] == ["content-strategy", "copywriting", "social-content",
                                 "copy-editing", "director-review"]


def test_pipelines_list_prints_one_row_per_template_and_how_to_run_one(
        env: dict[str, str | None]) -> None:
    result = _run(env, "pipelines", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PIPELINE", "STEPS", "PRIORITY", "DESCRIPTION"]
    seo = next(line for line in lines if line.startswith("SEO Cycle "))
    assert seo.split()[2:4] == ["5", "P2"]
    assert sum(1 for line in lines[1:] if line[:1].isalpha() and "  P" in line) == 9
    assert 'mtctl pipeline "<name>"' in result.stdout


def test_pipelines_list_includes_the_user_catalog(env: dict[str, str | None], tmp_path: Path) -> None:
    user = tmp_path / "catalog"
    user.mkdir()
    (user / "pipelines.yaml").write_text(textwrap.dedent(USER_PIPELINE), encoding="utf-8")

    result = _run({**env, "MT_CATALOG_DIR": str(user)}, "pipelines", "list", "--json")

    digest = next(p for p in json.loads(result.stdout) if p["name"] == "Weekly Digest")
    assert (digest["steps"], digest["priority"]) == (2, "P3")
