"""The README's configuration section cannot drift from the settings and errors it documents."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from marketing_team.config.settings import Settings, load_settings
from marketing_team.domain.errors import ConfigurationError
from marketing_team.llm.openai_provider import OpenAIProvider

README = Path(__file__).resolve().parents[2] / "README.md"
_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*?)\|(.*)\|\s*$")


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _table() -> dict[str, tuple[str, str]]:
    """Variable -> (default cell, meaning cell) of the Configuration section's table."""
    rows = (_ROW.match(line) for line in _section("Configuration").splitlines())
    return {row.group(1): (row.group(2).strip(), row.group(3).strip()) for row in rows if row}


def _shown(default: object) -> str:
    # How the README writes a default: booleans as the 0/1 a user types, numbers without zeros
    if isinstance(default, bool):
        return str(int(default))
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, Decimal):
        return f"{default.normalize():f}"
    return str(default)


def test_every_variable_the_settings_read_is_in_the_readme_table_with_its_default() -> None:
    table = _table()
    variables = {field.alias: field.default for field in Settings.model_fields.values()
                 if field.alias is not None}

    assert sorted(set(variables) - set(table)) == []  # a setting nobody can find
    assert sorted(set(table) - set(variables)) == []  # a row for a setting that is gone
    for name, default in variables.items():
        cell, meaning = table[name]
        assert meaning, f"{name} has no meaning in the README table"
        if default is not None:
            assert _shown(default) in cell, f"{name}: README says {cell!r}, settings say {default!r}"


def test_the_readme_says_how_to_use_a_local_model() -> None:
    section = _section("Use a local model")
    for needed in ("MT_LLM_PROVIDER=openai", "MT_OPENAI_BASE_URL", "MT_OPENAI_MODEL",
                   "OPENAI_API_KEY", "MT_OPENAI_PRICE_INPUT", "ollama"):
        assert needed in section, needed


def test_the_missing_extra_error_and_the_readme_spell_the_install_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # an install without the extra

    with pytest.raises(ConfigurationError) as caught:
        OpenAIProvider(load_settings(_env_file=None, llm_provider_choice="openai"))

    command = re.search(r"pip install \S+", str(caught.value))
    assert command is not None and "\n" not in str(caught.value)
    readme = README.read_text(encoding="utf-8")
    spellings = set(re.findall(r"pip install [^\s`]*\[openai\][^\s`]*", readme))
    assert spellings == {command.group(0).rstrip("`")}
