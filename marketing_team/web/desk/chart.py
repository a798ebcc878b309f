"""The budget page's chart: spend per day of a month as an SVG bar chart drawn on the server.

Server-side so the page needs no script and no chart library; numbers only reach the markup
formatted, and every label is escaped.
"""

from __future__ import annotations

import calendar

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 200, 56, 24, 12


def daily_bars(by_day: dict[str, float], month: str) -> Markup:
    """One bar per day of month (YYYY-MM), scaled to the largest day, with a labelled axis."""
    year, number = int(month[:4]), int(month[5:7])
    days = calendar.monthrange(year, number)[1]
    values = [by_day.get(f"{month}-{day:02d}", 0.0) for day in range(1, days + 1)]
    top = max(values) or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / days
    total = sum(values)
    label = f"Spend per day in {month}: ${total:.2f} in total, the most on one day ${max(values):.2f}"
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(label)}</title>",
             f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}" '
             'stroke="currentColor" stroke-width="1"/>',
             f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 10}" text-anchor="end" font-size="11" '
             f'fill="currentColor">${top:.2f}</text>',
             f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="11" '
             'fill="currentColor">$0</text>']
    for index, value in enumerate(values):
        height = 0.0 if value <= 0 else max(1.0, plot_h * value / top)
        x = PAD_LEFT + index * slot + slot * 0.15
        day = index + 1
        parts.append(f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - height:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{height:.1f}" fill="#2f6fab"><title>{month}-{day:02d}: '
                     f"${value:.4f}</title></rect>")
        if day == 1 or day % 5 == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                         f'font-size="11" fill="currentColor">{day}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped labels only
