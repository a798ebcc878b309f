"""Where a provider sends its requests, said so a connection failure names the URL and its setting."""

from __future__ import annotations

import re

from marketing_team.config.settings import mask_url

# "[Errno 111] Connection refused" reads better without the errno a user cannot act on.
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


def describe_endpoint(url: str, variable: str, chosen: bool) -> str:
    """`URL (VARIABLE)`, or `URL (the default; VARIABLE is unset)`; a password in it masked."""
    origin = variable if chosen else f"the default; {variable} is unset"
    return f"{mask_url(url)} ({origin})"


def root_cause(exc: BaseException) -> str:
    """The innermost cause's text ("Connection refused"), not the SDK's "Connection error."."""
    seen: set[int] = set()
    text = str(exc)
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        own = _ERRNO.sub("", str(current)).strip()
        if own:
            text = own
        current = current.__cause__ or current.__context__
    # One line whatever the cause says (a proxy's multi-line HTML error, a nested repr).
    return " ".join(text.split())


__all__ = ["describe_endpoint", "root_cause"]
