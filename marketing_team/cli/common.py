"""Helpers every command module shares: settings, the runtime without a broker, JSON output."""

from __future__ import annotations

import json
from typing import Any

import click

from marketing_team.config.settings import Settings, load_settings
from marketing_team.director.runtime import Runtime, build_runtime
from marketing_team.domain.goal import Priority
from marketing_team.domain.text import terminal_safe
from marketing_team.domain.values import OFFLINE_PROVIDER


def settings() -> Settings:
    """Settings from the environment (ConfigurationError names the variable)."""
    return load_settings()


def local_runtime(cfg: Settings | None = None) -> Runtime:
    """A runtime for commands that read the workspace and catalog but publish nothing."""
    cfg = cfg or settings()
    return build_runtime(cfg, cfg.broker_url)


def say(text: str = "", err: bool = False) -> None:
    """Print a line for people, every control sequence removed (goal text, model output and event
    data reach the terminal through here; our own styling goes through click.style after it)."""
    click.echo(terminal_safe(text), err=err)


def offline_notice(cfg: Settings) -> None:
    """The first line of every run without a model: what the output is and how to get real text."""
    if cfg.llm_provider == OFFLINE_PROVIDER:
        say("note: no model is connected, so the team writes offline placeholder drafts; set "
            "ANTHROPIC_API_KEY for real output (or MT_LLM_PROVIDER=openai with MT_OPENAI_BASE_URL "
            "for a local model)", err=True)


def emit_json(data: Any) -> None:
    """Print one JSON object to stdout (the scripting contract)."""
    click.echo(json.dumps(data, default=str, sort_keys=False))


PRIORITY = click.Choice([p.value for p in Priority])
