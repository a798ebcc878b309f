"""One page of a long list: which page was asked for (`?page=`), and what the page says of the rest."""

from __future__ import annotations

from dataclasses import dataclass

from marketing_team.web.desk.http import DeskError, Request


@dataclass(frozen=True)
class Page:
    """Page `number` (from 1) of `total` rows, `size` to a page."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        """The first row of this page, from 0."""
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even when empty)."""
        return max(1, -(-self.total // self.size))

    def shown(self, rows: int) -> str:
        """`showing 51–100 of 230`: what part of the list this page holds."""
        if rows == 0:
            return f"showing 0 of {self.total}"
        return f"showing {self.offset + 1}–{self.offset + rows} of {self.total}"


def page_of(request: Request, size: int, total: int) -> Page:
    """The page asked for by `?page=` (default 1); 400 when it is not a page of this list."""
    raw = request.query.get("page") or "1"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:  # not '²' or '١'
        raise DeskError(400, "page must be a whole number from 1", "page")
    page = Page(int(raw), size, total)
    if page.number > page.pages:
        raise DeskError(404, f"there are only {page.pages} pages", "page")
    return page
