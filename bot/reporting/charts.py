"""The report's charts: bars as inline SVG for the document, the PNG trend chart /stats
sends (Telegram shows photos, not SVG)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from html import escape

from bot.i18n import Translator
from bot.reporting.data import number
from bot.reporting.svg import bar_chart
from bot.stats.shaping import Figures


def _e(text: str) -> str:
    """Text content: <, > and & escaped (quotes need no escaping outside attributes)."""
    return escape(text, quote=False)


def _chart(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _describe(
    t: Translator, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> str:
    """A chart's text alternative: every value, in words."""
    parts = []
    for name, values in series:
        listed = ", ".join(
            f"{label} {number(t, v)}" for label, v in zip(labels, values, strict=False)
        )
        parts.append(f"{name} : {listed}" if t.locale == "fr" else f"{name}: {listed}")
    return "; ".join(parts) + "."


def _bar(t: Translator, labels: list[str], series: list[tuple[str, list[int]]], title: str) -> str:
    return _chart(
        bar_chart(
            labels,
            series,
            title=title,
            description=_describe(t, labels, series),
            fmt=lambda v: number(t, v),
        ),
        title,
    )


def stats_chart(figures: Figures, t: Translator) -> bytes:
    """The trend chart /stats sends (a PNG: Telegram shows photos, not SVG)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    points = figures.series
    figure = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    x = list(range(len(points)))
    axes.bar(x, [p["questions"] for p in points], color="#1f5c99", label=t("questions"))
    axes.plot(
        x,
        [p["active"] for p in points],
        color="#a34a00",
        marker="o" if len(points) <= 31 else None,
        linewidth=2,
        label=t("active patrons"),
    )
    step = max(1, len(points) // 12)
    axes.set_xticks(x[::step], [t.short_date(p["start"]) for p in points][::step])
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(t, int(v))))
    axes.set_ylim(
        bottom=0,
        top=max([1, *(p["questions"] for p in points), *(p["active"] for p in points)]) * 1.1,
    )
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize=9)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
