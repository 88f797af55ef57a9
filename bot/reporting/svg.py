"""Vector bar charts (inline SVG) with integer axes, for the HTML and PDF report.

Each chart carries a ``<title>`` and a ``<desc>`` (its text alternative) and is drawn in
colours that keep a contrast of at least 4.5:1 on white. Numbers are formatted by the
caller's ``fmt`` (French: ``1 234``), so the axis reads as the tables do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from itertools import count
from typing import Final

COLORS: Final = ("#1f5c99", "#a34a00", "#2e6b34", "#8e3a59", "#5a4a9c", "#6b5a00")
_ids = count(1)


def nice_ticks(top: float, wanted: int = 5) -> list[int]:
    """Integer ticks from 0 covering ``top`` (1, 2, 5 × 10ⁿ steps): never 0.2, 0.4..."""
    if top <= 0:
        return [0, 1]
    raw = max(1.0, top / wanted)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    last = math.ceil(top / step) * step
    return list(range(0, last + 1, step))


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    description: str,
    fmt: Callable[[int], str] = str,
    width: int = 640,
    height: int = 260,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series."""
    uid = next(_ids)
    top = max((v for _, values in series for v in values), default=0)
    ticks = nice_ticks(top)
    left, right, top_pad, bottom = 56, 8, 30, 54
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    scale = plot_h / ticks[-1]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
        f' aria-labelledby="c{uid}t c{uid}d" class="chart" font-family="sans-serif"'
        ' font-size="11">',
        f'<title id="c{uid}t">{escape(title)}</title>',
        f'<desc id="c{uid}d">{escape(description)}</desc>',
    ]
    for tick in ticks:
        y = top_pad + plot_h - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#c8d0da" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#1d2733">'
            f"{escape(fmt(tick))}</text>"
        )
    n = max(1, len(categories))
    group_w = plot_w / n
    bar_w = group_w * 0.8 / max(1, len(series))
    label_step = max(1, math.ceil(n / 12))
    for i, category in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, (_, values) in enumerate(series):
            value = values[i] if i < len(values) else 0
            h = value * scale
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{top_pad + plot_h - h:.1f}"'
                f' width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}"'
                f' fill="{COLORS[j % len(COLORS)]}"><title>{escape(category)} : '
                f"{escape(fmt(value))}</title></rect>"
            )
        if i % label_step == 0:
            cx = left + i * group_w + group_w / 2
            label = category if len(category) <= 16 else category[:15] + "…"
            parts.append(
                f'<text x="{cx:.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle"'
                f' fill="#1d2733">{escape(label)}</text>'
            )
    x = left
    for j, (name, _) in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{COLORS[j % len(COLORS)]}"/>'
            f'<text x="{x + 16}" y="18" fill="#1d2733">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)
