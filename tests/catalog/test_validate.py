"""validate_catalog on user overrides: every problem found, each named by its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from marketing_team.catalog.cron import cron_problem
from marketing_team.catalog.lined_yaml import LinedYAMLError, line_of, load_lined
from marketing_team.catalog.loader import load_catalog_from
from marketing_team.catalog.validate import Problem, validate_catalog
from marketing_team.domain.errors import ConfigurationError


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _where(problems: list[Problem]) -> list[tuple[str, int]]:
    return [(p.file.name, p.line) for p in problems]


def test_validate_finds_no_problem_in_the_shipped_catalog() -> None:
    assert validate_catalog(None) == []


def test_problem_prints_as_file_line_message() -> None:
    problem = Problem(Path("/c/events.yaml"), 4, "unknown operator 'above'")
    assert str(problem) == "/c/events.yaml:4: unknown operator 'above'"
    assert str(Problem(Path("/c"), 0, "not a directory")) == "/c: not a directory"


def test_validate_collects_every_problem_instead_of_stopping_at_the_first(tmp_path: Path) -> None:
    # Given three broken files, each with its own problem
    _write(tmp_path, "schedules.yaml", """
        schedules:
          - {id: a, cron: "0 0 * *", kind: goal, target: x, category: content}
          - {id: b, cron: "0 0 * * *", kind: goal, target: x, priority: P7}
        """)
    _write(tmp_path, "events.yaml", """
        mappings:
          - {event: traffic_drop, pipeline: SEO Cycle, condition: {field: x, op: gt}}
        """)
    _write(tmp_path, "team.yaml", "squads:\n  growth:\n    skills: [copywriting]\n")
    problems = validate_catalog(tmp_path)
    assert _where(problems) == [("events.yaml", 2), ("schedules.yaml", 2), ("schedules.yaml", 3),
                                ("team.yaml", 3)]
    messages = " | ".join(p.message for p in problems)
    assert "needs a value to compare with" in messages
    assert "expected 5 fields" in messages
    assert "unknown priority 'P7'" in messages
    assert "in two squads: 'creative' and 'growth'" in messages


def test_validate_reports_unknown_templates_in_schedules_events_and_routing(tmp_path: Path) -> None:
    _write(tmp_path, "schedules.yaml", """
        schedules:
          - id: weekly-blog
            cron: "0 8 * * mon"
            kind: pipeline
            target: Blog Sprint
        """)
    _write(tmp_path, "events.yaml", "mappings:\n  - event: new_blog_post\n    pipeline: Blog Sprint\n")
    _write(tmp_path, "routing.yaml", """
        routing:
          content:
            template: Content Productoin
            routes:
              - {squad: creative, skills: [copywriting]}
        """)
    problems = validate_catalog(tmp_path)
    assert _where(problems) == [("events.yaml", 3), ("routing.yaml", 3), ("schedules.yaml", 5)]
    assert "unknown pipeline 'Blog Sprint'" in problems[0].message
    assert "did you mean 'Content Production'?" in problems[1].message


def test_validate_reports_unknown_skills_and_squads_in_routes_and_team_edges(tmp_path: Path) -> None:
    _write(tmp_path, "routing.yaml", """
        routing:
          retention:
            routes:
              - squad: lifecycle
                skills: [email-sequence, winback-emails]
        """)
    _write(tmp_path, "team.yaml", "edges:\n  copywriting: [landing-qa]\n")
    problems = validate_catalog(tmp_path)
    assert [(p.file.name, p.line, p.message.split(": ")[1]) for p in problems] == [
        ("routing.yaml", 4, "unknown squad 'lifecycle'"),
        ("routing.yaml", 5, "unknown skill 'winback-emails'"),
        ("team.yaml", 2, "unknown skill 'landing-qa'"),
    ]


def test_validate_reports_a_cycle_through_a_user_skill_downstream(tmp_path: Path) -> None:
    # copywriting already feeds copy-editing; an override making copy-editing feed it back is a loop
    _write(tmp_path, "skills/copy-editing/SKILL.md", """
        ---
        name: copy-editing
        description: Edits copy in sweeps.
        downstream:
          - copywriting
        ---
        ## Edited Copy
        Edit it.
        """)
    problems = validate_catalog(tmp_path)
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'skills/copy-editing/SKILL.md'}:5: "
        "dependency cycle: copy-editing -> copywriting -> copy-editing"]


def test_validate_reports_skill_front_matter_problems_with_their_lines(tmp_path: Path) -> None:
    _write(tmp_path, "skills/launch-faq/SKILL.md", """
        ---
        name: launch-faq
        squad: launch
        tier: gpt-4
        min_words: 0
        ---
        Write the FAQ.
        """)
    problems = validate_catalog(tmp_path)
    assert [(p.line, p.message) for p in problems] == [
        (1, "front matter is missing 'description'"),
        (1, "no sections: list them under `sections:` or as '## ' headings in the body"),
        (3, "skill 'launch-faq': unknown squad 'launch'"),
        (4, "skill 'launch-faq': unknown tier 'gpt-4' (expected 'opus', 'sonnet' or 'haiku')"),
        (5, "min_words must be positive, got 0"),
    ]


def test_validate_reports_duplicate_skill_names_and_yaml_keys(tmp_path: Path) -> None:
    for folder in ("faq-a", "faq-b"):
        _write(tmp_path, f"skills/{folder}/SKILL.md",
               "---\nname: launch-faq\ndescription: FAQ.\n---\n## Questions\nQ.\n")
    _write(tmp_path, "team.yaml", "squads:\n  web:\n    skills: [faq-a]\n  web:\n    skills: [faq-b]\n")
    problems = validate_catalog(tmp_path)
    assert _where(problems) == [("SKILL.md", 2), ("team.yaml", 4)]
    assert problems[0].file.parent.name == "faq-b"
    assert "duplicate skill name 'launch-faq'" in problems[0].message
    assert "duplicate key 'web'" in problems[1].message


def test_validate_reports_yaml_syntax_errors_in_front_matter_at_the_file_line(tmp_path: Path) -> None:
    _write(tmp_path, "skills/faq/SKILL.md", "---\nname: faq\ndescription: [unclosed\n---\n## A\n")
    (problem,) = validate_catalog(tmp_path)
    assert (problem.file.name, problem.line) == ("SKILL.md", 3)
    assert problem.message.startswith("invalid YAML")


def test_validate_reports_a_missing_user_directory(tmp_path: Path) -> None:
    assert validate_catalog(tmp_path / "nope") == [
        Problem(tmp_path / "nope", 0, "MT_CATALOG_DIR is not a directory")]


def test_validate_accepts_a_valid_override_of_a_package_template(tmp_path: Path) -> None:
    _write(tmp_path, "pipelines.yaml", """
        pipelines:
          - name: Content Production
            category: content
            steps:
              - skill: copywriting
              - review: director
        """)
    assert validate_catalog(tmp_path) == []
    assert len(load_catalog_from(tmp_path).pipelines["Content Production"].steps) == 2


@pytest.mark.parametrize(("rel", "text"), [
    ("team.yaml", "squads:\n  web: 3\n"),
    ("team.yaml", "edges:\n  - copywriting\n"),
    ("routing.yaml", "category_rules:\n  content: 3\n"),
    ("pipelines.yaml", "pipelines:\n  - {name: X, category: content, steps: [{parallel: []}]}\n"),
    ("events.yaml", "mappings:\n  - {event: traffic_drop, pipeline: SEO Cycle, condition: 3}\n"),
    ("skills/x/SKILL.md", "---\nname: x\ndescription: d\nmin_words: many\n---\n## A\n"),
])
def test_validate_reports_whatever_the_loader_refuses(tmp_path: Path, rel: str, text: str) -> None:
    path = _write(tmp_path, rel, text)
    with pytest.raises(ConfigurationError, match=str(path)):
        load_catalog_from(tmp_path)
    problems = validate_catalog(tmp_path)
    assert problems and {p.file for p in problems} == {path}
    assert all(p.line > 0 for p in problems)


@pytest.mark.parametrize("expr", ["0 6 * * *", "*/15 * * * *", "0 9-17/2 * * mon-fri",
                                  "30 2 1,15 jan-jun 0", "5 4 * * SUN"])
def test_cron_problem_accepts_standard_expressions(expr: str) -> None:
    assert cron_problem(expr) is None


@pytest.mark.parametrize(("expr", "reason"), [
    ("0 6 * *", "expected 5 fields"),
    ("60 * * * *", "minute field '60': 60 is outside 0-59"),
    ("0 24 * * *", "hour field '24'"),
    ("0 0 0 * *", "day-of-month field '0': 0 is outside 1-31"),
    ("0 0 * 13 *", "month field '13'"),
    ("0 0 * * 7", "day-of-week field '7': 7 is outside 0-6"),
    ("0 0 * * fri-mon", "runs backwards"),
    ("*/0 * * * *", "step '0' must be a positive number"),
    ("5/10 * * * *", "a step needs '*' or a range"),
    ("0 mon * * *", "'mon' is not a number"),
    ("1,,2 * * * *", "'' is not a number"),
])
def test_cron_problem_names_the_bad_field(expr: str, reason: str) -> None:
    assert reason in (cron_problem(expr) or "")


def test_lined_yaml_keeps_lines_of_keys_and_items() -> None:
    data, duplicates = load_lined("a: 1\nb:\n  - x\n  - {c: 2}\na: 3\n", first_line=10)
    assert duplicates == [(14, "a")]
    assert line_of(data, ("b", 1, "c"), 0) == 13
    assert line_of(data, ("b", 5), 0) == 11  # the deepest part that exists
    with pytest.raises(LinedYAMLError) as caught:
        load_lined("a: [1\nb: 2\n")
    assert caught.value.line == 2



def _alias_bomb(levels: int = 5) -> str:
    """Nested aliases that expand to 9**levels items (the real attack used 9 levels)."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for n in range(1, levels + 1):
        refs = ",".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    return "\n".join(lines) + "\nschedules: []\n"


def test_an_alias_in_a_catalog_file_is_refused_where_it_stands(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text(_alias_bomb())

    problems = validate_catalog(tmp_path)

    assert [(p.file.name, p.line) for p in problems][:1] == [("schedules.yaml", 2)]
    assert "aliases (*name) are not allowed" in problems[0].message
    with pytest.raises(ConfigurationError, match=r"schedules.yaml:2: invalid YAML \(aliases"):
        load_catalog_from(tmp_path)


def test_an_alias_in_skill_front_matter_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "skills/bomb/SKILL.md", "---\nname: &n bomb\ndescription: *n\n---\n# Body\n")

    assert any("aliases (*name) are not allowed" in p.message for p in validate_catalog(tmp_path))
    with pytest.raises(ConfigurationError, match="SKILL.md"):
        load_catalog_from(tmp_path)


def test_a_catalog_file_over_256_kib_is_refused_naming_its_size(tmp_path: Path) -> None:
    big = _write(tmp_path, "skills/huge/SKILL.md",
                 "---\nname: huge\ndescription: too big\n---\n" + "# Body\n" + "word " * 60_000)

    problems = validate_catalog(tmp_path)
    with pytest.raises(ConfigurationError, match="over the 262144-byte limit") as caught:
        load_catalog_from(tmp_path)

    assert [p.message for p in problems if p.file == big] == [
        f"{big.stat().st_size} bytes, over the 262144-byte limit for catalog files"]
    assert str(big) in str(caught.value)


def test_deep_nesting_is_refused_at_once_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text("schedules:\n  - " + "[" * 300 + "1" + "]" * 300 + "\n")

    problems = validate_catalog(tmp_path)

    assert [(p.file.name, p.line) for p in problems] == [("schedules.yaml", 2)]
    assert "nested deeper than 32 levels" in problems[0].message
    with pytest.raises(ConfigurationError, match="schedules.yaml:2: invalid YAML"):
        load_catalog_from(tmp_path)


def test_an_unreadable_skill_file_is_a_named_problem_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "skills" / "odd"
    folder.mkdir(parents=True)
    # stat says 0 bytes; a read returns endless data (or fails): the limit holds on what is read
    (folder / "SKILL.md").symlink_to("/proc/self/pagemap")

    problems = [p.message for p in validate_catalog(tmp_path) if p.file.name == "SKILL.md"]
    assert len(problems) == 1 and ("cannot be read" in problems[0] or "over the 262144-byte limit"
                                   in problems[0])
    with pytest.raises(ConfigurationError, match="SKILL.md: "):
        load_catalog_from(tmp_path)


def test_a_skill_file_saved_with_a_byte_order_mark_reads_like_any_other(tmp_path: Path) -> None:
    _write(tmp_path, "skills/bom/SKILL.md", "\ufeff---\nname: bom\ndescription: Saved by an editor "
                                            "that writes a BOM\nsquad: creative\n---\n## Body\n" + "Text. " * 40)

    assert not [p for p in validate_catalog(tmp_path) if p.file.parent.name == "bom"]
    assert load_catalog_from(tmp_path).skill("bom").name == "bom"
