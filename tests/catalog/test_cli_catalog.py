"""`mtctl validate`, `skills list|show` and `init` through the real click group."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from marketing_team.cli.cmd_context import PRODUCT_TEMPLATE
from marketing_team.cli.main import cli

OK_LINE = "catalog OK: 26 skills, 5 squads, 9 pipelines, 6 schedules, 7 event mappings"
TEMPLATE_SECTIONS = ("Product", "Audience", "Personas", "Pains", "Competitors", "Differentiation",
                     "Objections", "Voice", "Proof points", "Goals")

# Each kind of broken user override: (file, its text, the line the problem is on, message part).
BROKEN = {
    "unknown-skill-in-pipeline": ("pipelines.yaml", """
        pipelines:
          - name: Launch Blitz
            category: content
            steps:
              - skill: copywriting
              - parallel: [social-content, tiktok-scripts]
        """, 6, "unknown skill 'tiktok-scripts'"),
    "cycle": ("team.yaml", """
        edges:
          copy-editing: [copywriting]
        """, 2, "dependency cycle: copy-editing -> copywriting -> copy-editing"),
    "bad-cron": ("schedules.yaml", """
        schedules:
          - id: nightly-audit
            cron: "0 25 * * *"
            kind: pipeline
            target: SEO Cycle
        """, 3, "bad cron '0 25 * * *': hour field '25': 25 is outside 0-23"),
    "unknown-event-type": ("events.yaml", """
        mappings:
          - event: page_viewed
            pipeline: SEO Cycle
        """, 2, "unknown event type 'page_viewed'"),
    "bad-operator": ("events.yaml", """
        mappings:
          - event: traffic_drop
            pipeline: SEO Cycle
            condition: {field: percentageDrop, op: above, value: 30}
        """, 4, "unknown operator 'above'"),
    "duplicate-name": ("pipelines.yaml", """
        pipelines:
          - name: Weekly Digest
            category: content
            steps: [{skill: copywriting}]
          - name: Weekly Digest
            category: content
            steps: [{skill: social-content}]
        """, 5, "duplicate pipeline name 'Weekly Digest' (first at line 2)"),
    "missing-sections": ("skills/launch-faq/SKILL.md", """
        ---
        name: launch-faq
        description: Writes the FAQ for a launch page.
        sections: [Questions, Answers]
        ---
        # Launch FAQ

        ## Questions
        The ten questions buyers ask.
        """, 4, "section 'Answers' has no '## Answers' heading in the body"),
    "yaml-syntax": ("routing.yaml", """
        routing:
          content:
            template: Content Production
            routes: [
              - {squad: creative, skills: [copywriting]}
        """, 5, "invalid YAML"),
    "unknown-template-in-schedule": ("schedules.yaml", """
        schedules:
          - id: weekly-blog
            cron: "0 8 * * 1"
            kind: pipeline
            target: Blog Sprint
        """, 5, "unknown pipeline 'Blog Sprint'"),
}

AGENT_SKILL = """
    ---
    name: brand-voice
    description: Writes a brand voice guide with tone rules and before/after examples.
    license: Apache-2.0
    ---
    # Brand voice

    Produce the guide below for the product in the context.

    ## Voice Principles
    Three to five principles, each with a "this, not that" pair.

    ## Before and After
    Five rewrites of real copy in the new voice.
    """


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return {"WORKSPACE_DIR": str(tmp_path / "ws"), "MT_CATALOG_DIR": None}


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def test_validate_exits_0_on_the_shipped_catalog(env: dict[str, str | None]) -> None:
    result = _run(env, "validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == OK_LINE


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_validate_exits_1_naming_the_user_file_and_line(
        env: dict[str, str | None], tmp_path: Path, kind: str) -> None:
    # Given a user catalog with one broken override
    rel, text, line, message = BROKEN[kind]
    path = _write(tmp_path / "catalog", rel, text)
    # When validating the merged catalog
    result = _run({**env, "MT_CATALOG_DIR": str(tmp_path / "catalog")}, "validate")
    # Then the problem names the user's file and line, and the exit code is 1
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert any(out.startswith(f"{path}:{line}: ") and message in out for out in lines), lines
    assert lines[-1].startswith("catalog invalid: ")


def test_validate_accepts_an_agent_skills_folder_from_another_library(
        env: dict[str, str | None], tmp_path: Path) -> None:
    _write(tmp_path / "catalog", "skills/brand-voice/SKILL.md", AGENT_SKILL)
    env = {**env, "MT_CATALOG_DIR": str(tmp_path / "catalog")}
    result = _run(env, "validate")
    assert result.exit_code == 0, result.output
    assert "catalog OK: 27 skills, 5 squads" in result.stdout
    shown = json.loads(_run(env, "skills", "show", "brand-voice", "--json").stdout)
    assert (shown["squad"], shown["tier"]) == ("unassigned", "sonnet")
    assert shown["sections"] == ["Voice Principles", "Before and After"]


def test_agent_skills_folder_takes_its_squad_from_team_yaml(
        env: dict[str, str | None], tmp_path: Path) -> None:
    _write(tmp_path / "catalog", "skills/brand-voice/SKILL.md", AGENT_SKILL)
    _write(tmp_path / "catalog", "team.yaml", "squads:\n  brand:\n    skills: [brand-voice]\n")
    env = {**env, "MT_CATALOG_DIR": str(tmp_path / "catalog")}
    assert _run(env, "validate").exit_code == 0
    listed = json.loads(_run(env, "skills", "list", "--json").stdout)
    assert {s["slug"]: s["squad"] for s in listed}["brand-voice"] == "brand"


def test_skills_list_shows_26_skills_grouped_by_squad(env: dict[str, str | None]) -> None:
    result = _run(env, "skills", "list")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    skill_rows = [row for row in rows if row[0] in
                  ("foundation", "strategy", "creative", "convert", "activate", "measure")]
    assert len(skill_rows) == 26
    assert skill_rows[0][:3] == ["foundation", "product-marketing-context", "opus"]
    squads_in_order = list(dict.fromkeys(row[0] for row in skill_rows))
    assert squads_in_order == ["foundation", "strategy", "creative", "convert", "activate",
                               "measure"]
    assert result.stdout.rstrip().endswith("26 skills in 5 squads + foundation")


def test_skills_list_json_has_every_field(env: dict[str, str | None]) -> None:
    listed = json.loads(_run(env, "skills", "list", "--json").stdout)
    assert len(listed) == 26
    assert set(listed[0]) >= {"slug", "squad", "tier", "description", "sections", "min_words"}


def test_skills_show_prints_fields_sections_and_instructions(env: dict[str, str | None]) -> None:
    result = _run(env, "skills", "show", "copywriting")
    assert result.exit_code == 0, result.output
    assert "squad:       creative" in result.stdout
    assert "tier:        sonnet" in result.stdout
    for index, section in enumerate(("Message Brief", "Headline Options", "Page Copy",
                                     "Calls to Action", "Test Variants", "Assumptions"), 1):
        assert f"    {index}. {section}\n" in result.stdout
        assert f"\n## {section}" in result.stdout  # the instructions follow, headings included


def test_skills_show_unknown_slug_is_one_line_and_exit_2(env: dict[str, str | None]) -> None:
    result = _run(env, "skills", "show", "copywritng")
    assert result.exit_code == 2
    assert result.stderr == "error: unknown skill 'copywritng' (did you mean 'copywriting'?)\n"


def test_init_writes_the_commented_product_template(env: dict[str, str | None],
                                                     tmp_path: Path) -> None:
    result = _run(env, "init")
    assert result.exit_code == 0, result.output
    path = tmp_path / "ws" / "context" / "product.md"
    text = path.read_text(encoding="utf-8")
    assert text == PRODUCT_TEMPLATE
    for section in TEMPLATE_SECTIONS:
        heading = f"\n## {section}\n"
        assert heading in text
        assert text.split(heading)[1].startswith("<!-- ")  # each section explains itself
    assert all((tmp_path / "ws" / name).is_dir() for name in ("goals", "memory", "reviews"))


def test_init_refuses_to_overwrite_without_force(env: dict[str, str | None],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "ws" / "context" / "product.md"
    assert _run(env, "init").exit_code == 0
    path.write_text("# Our product\nAcme does X.\n", encoding="utf-8")
    # When init runs again without --force, the user's text survives
    again = _run(env, "init")
    assert again.exit_code == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert path.read_text(encoding="utf-8") == "# Our product\nAcme does X.\n"
    # With --force, the template replaces it
    assert _run(env, "init", "--force").exit_code == 0
    assert path.read_text(encoding="utf-8") == PRODUCT_TEMPLATE


def test_listing_a_hostile_catalog_override_shows_its_text_without_control_sequences(
        env: dict[str, str | None], tmp_path: Path) -> None:
    # Given an override whose skill and pipeline text carry OSC, CSI, C1 and bidi sequences
    hostile = r"\e]0;pwned\a\e[2J\x9b31m\x9d0;c1\x9c\e]8;;http://evil.test\e\\link\e]8;;\e\\\u202e"
    (tmp_path / "cat" / "skills" / "evil").mkdir(parents=True)
    (tmp_path / "cat" / "skills" / "evil" / "SKILL.md").write_text(
        f'---\nname: "Evil {hostile}"\ndescription: "desc {hostile}"\n---\n# Evil\n\nbody {hostile}\n')
    (tmp_path / "cat" / "pipelines.yaml").write_text(
        f'pipelines:\n  - name: "Evil {hostile}"\n    description: "d {hostile}"\n'
        "    category: content\n    steps:\n      - skill: evil\n")
    env = {**env, "MT_CATALOG_DIR": str(tmp_path / "cat")}

    results = [_run(env, "skills", "list"), _run(env, "skills", "show", "evil"),
               _run(env, "pipelines", "list")]

    for result in results:
        assert result.exit_code == 0, result.output
        assert not any(seq in result.output for seq in ("\x1b", "\x07", "\x9b", "\x9d", "\u202e"))
    assert "desc link" in results[1].output
