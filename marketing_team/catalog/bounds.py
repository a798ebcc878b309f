"""Hard bounds on catalog files: a size limit, and YAML without aliases.

A catalog override (`MT_CATALOG_DIR`) is text someone else may have written. PyYAML expands
aliases, so 300 bytes of nested `*a` references can take minutes and gigabytes to load (a
"billion laughs"); no catalog file needs an alias, so none is accepted. Every catalog file is
refused above MAX_FILE_BYTES, named with its size and the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from marketing_team.domain.errors import ConfigurationError

MAX_FILE_BYTES = 256 * 1024


MAX_DEPTH = 32  # nesting levels a catalog file may use (the shipped ones use 5)


class NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing any alias (`*name`) and nesting deeper than MAX_DEPTH.

    Deep nesting costs seconds of CPU (and then the stack) in the pure-Python composer.
    """

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose as usual, except that an alias or a node too deep is an error at its position."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in catalog files", mark)
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_bounded(path: Path) -> str:
    """A catalog file's text; ConfigurationError naming the file when too large or not UTF-8."""
    try:
        with path.open("rb") as handle:  # read no more than the limit, whatever stat says
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        size = max(path.stat().st_size, len(data))
        raise ConfigurationError(f"{path}: {size} bytes, over the {MAX_FILE_BYTES}-byte limit "
                                 "for catalog files")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # an editor's BOM is not content
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
