"""Markdown from models and people, rendered safely: no raw HTML, links only to http(s), no images.

markdown-it-py (already installed with rich) is CommonMark: raw HTML is off, so a `<script>` in
a deliverable is shown as text; links to anything but http:// and https:// (javascript:, data:,
relative paths) stay plain text; images are not fetched (a model's image URL could track readers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from marketing_team.domain.errors import CorruptFileError
from marketing_team.domain.text import terminal_safe
from marketing_team.store import frontmatter

_SCHEMES = ("http://", "https://")


def _validate_link(url: str) -> bool:
    return url.strip().lower().startswith(_SCHEMES)


def _link_open(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    # Links leave the desk: no referrer, no access to this window, not endorsed for crawlers.
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    rendered: str = renderer.renderToken(tokens, idx, options, env)
    return rendered


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.disable("image")
    md.validateLink = _validate_link  # type: ignore[method-assign]  # the documented hook
    md.add_render_rule("link_open", _link_open)
    return md


_MD = _build()


def render(text: str) -> Markup:
    """Markdown as HTML that is safe to put in a page (terminal sequences removed from the source
    first, so none can span a link's title and the text after it)."""
    return Markup(_MD.render(terminal_safe(text)))  # noqa: S704 - markdown-it escapes text; raw HTML is off


def split_document(text: str) -> tuple[dict[str, Any], str]:
    """A stored document's front matter and body; a broken front matter leaves the text whole."""
    try:
        return frontmatter.parse(text)
    except CorruptFileError:
        return {}, text
