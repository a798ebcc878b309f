"""The tagged-block markup of our prompts (`<task>…</task>`): read back by the offline provider."""

from __future__ import annotations


def tag_content(text: str, tag: str) -> str | None:
    """The content of the first `<tag ...>…</tag>` block in text, or None."""
    start = text.find(f"<{tag}")
    if start < 0:
        return None
    open_end = text.find(">", start)
    close = text.find(f"</{tag}>", open_end)
    if open_end < 0 or close < 0:
        return None
    return text[open_end + 1 : close].strip("\n")
