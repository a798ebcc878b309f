"""The raw command line before click reads it: `--verbose` anywhere, and arguments that are not UTF-8."""

from __future__ import annotations

from collections.abc import Iterable

import click

from marketing_team.domain.errors import InputError

VERBOSE = "--verbose"


def hoist_verbose(args: list[str]) -> list[str]:
    """args with every `--verbose` before `--` moved to the front, where the group parses it, so
    `mtctl goal "x" --verbose` works as `mtctl --verbose goal "x"`. After `--`, words are data."""
    end = args.index("--") if "--" in args else len(args)
    head = [arg for arg in args[:end] if arg != VERBOSE]
    if len(head) == end:
        return args
    return [VERBOSE, *head, *args[end:]]


def is_undecodable(text: str) -> bool:
    """True when text carries bytes that were not UTF-8: Python hands such argv bytes over as
    lone surrogates (surrogateescape), which every later encode, pydantic included, refuses."""
    return any("\udc80" <= char <= "\udcff" for char in text)


def shown(text: str) -> str:
    """The argument as the bytes it was, escaped (`\\xff\\xfe bad`): safe for any terminal."""
    return repr(text.encode("utf-8", "surrogateescape"))[2:-1]


def refuse_undecodable(group: click.Group, ctx: click.Context, args: list[str]) -> None:
    """Raise InputError naming the first argument that is not UTF-8, by its parameter when the
    command's own parser can tell which one it fills (TEXT, --topic), else by its position."""
    bad = next((i for i, arg in enumerate(args) if is_undecodable(arg)), None)
    if bad is None:
        return
    where = _parameter_of(group, ctx, args, args[bad]) or f"argument {bad + 1}"
    raise InputError(f"{where} is not valid UTF-8 text: '{shown(args[bad])}' (the terminal or "
                     "script passed bytes in another encoding; check LANG/LC_ALL)")


def _parameter_of(group: click.Group, ctx: click.Context, args: list[str],
                  value: str) -> str | None:
    """`mtctl goal: TEXT`, found by parsing the leaf command's args leniently (no callbacks, no
    errors); None when no parameter took the value (a misspelt option, say)."""
    command: click.Command | None = group
    path = ["mtctl"]
    rest = list(args)
    while isinstance(command, click.Group):  # our groups take no options of their own
        if not rest:
            return None
        try:
            name, command, rest = command.resolve_command(ctx, rest)
        except click.UsageError:
            return None  # an unknown command: the argument is named by its position
        if command is None or name is None:
            return None
        path.append(name)
    if command is None:
        return None
    # An option's value is named by the option before it (`--status x`, `--status=x`); lenient
    # parsing drops a value its type refuses, so the raw words are read first.
    at = rest.index(value) if value in rest else -1
    flag = value.split("=", 1)[0] if value.startswith("--") else rest[at - 1] if at > 0 else ""
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_flag and flag in param.opts:
            return f"{' '.join(path)}: {flag}"
    parsed = command.make_context(path[-1], rest, parent=ctx, resilient_parsing=True)
    for param in command.params:
        if value in _strings(parsed.params.get(param.name or "")):
            label = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
            return f"{' '.join(path)}: {label}"
    return None


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


__all__ = ["VERBOSE", "hoist_verbose", "is_undecodable", "refuse_undecodable", "shown"]
