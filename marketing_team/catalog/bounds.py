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


class NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing any alias (`*name`) where it would expand one."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose as usual, except that an alias is an error at its position."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in catalog files", event.start_mark)
        return super().compose_node(parent, index)


def read_bounded(path: Path) -> str:
    """A catalog file's text; ConfigurationError naming the file when too large or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigurationError(f"{path}: {size} bytes, over the {MAX_FILE_BYTES}-byte limit "
                                 "for catalog files")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
