"""The product context's source: the user's context/product.md, sent to Redis when it changes."""

from __future__ import annotations

from marketing_team.director.runtime import Runtime
from marketing_team.store.context import ContextRecord, fingerprint


def send_file(rt: Runtime) -> ContextRecord | None:
    """Send context/product.md to Redis as it is now; None when there is no such file."""
    text = rt.workspace.read_context_file()
    if text is None:
        return None
    return rt.context.set(text, str(rt.workspace.context_file))


def sync_from_file(rt: Runtime) -> str | None:
    """Send context/product.md when it changed since it was last sent; returns what to tell the user.

    The file wins when it changed: an edited file replaces whatever context Redis holds. An
    unchanged file leaves alone a context sent since from elsewhere (`mtctl context set`, another
    machine), and without a file the context in Redis stays as it is.
    """
    text = rt.workspace.read_context_file()
    if text is None:
        return None
    source = str(rt.workspace.context_file)
    stored = rt.context.record()
    if stored is not None and fingerprint(text) in (stored.sha, rt.context.last_sent_by(source)):
        return None
    rt.context.set(text, source)
    verb = "changed since it was last sent" if stored is not None else "was new to the team's store"
    return f"{rt.workspace.context_file} {verb}: sent to Redis (the file wins over the stored copy)"
