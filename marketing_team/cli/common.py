"""Helpers every command module shares: settings, the runtime without a broker, JSON output."""

from __future__ import annotations

import json
from typing import Any

import click

from marketing_team.domain import Priority
from marketing_team.llm.factory import make_llm
from marketing_team.runtime import Runtime
from marketing_team.settings import Settings, load_settings


def settings() -> Settings:
    """Settings from the environment (ConfigurationError names the variable)."""
    return load_settings()


def offline_runtime(cfg: Settings | None = None) -> Runtime:
    """A runtime for commands that read the workspace and catalog but publish nothing."""
    cfg = cfg or settings()
    return Runtime(settings=cfg, llm=make_llm(cfg), broker_url=cfg.broker_url)


def emit_json(data: Any) -> None:
    """Print one JSON object to stdout (the scripting contract)."""
    click.echo(json.dumps(data, default=str, sort_keys=False))


PRIORITY = click.Choice([p.value for p in Priority])
