"""The evaluation report ("document synthétique d'évaluation"): HTML, CSV or JSON.

:func:`build_report` gathers the :class:`~bot.stats.Figures` in SQL, then renders them in a
thread (matplotlib with the Agg backend, no pyplot global state) so a running bot stays
responsive. The HTML document is self-contained: inline CSS, charts as base64 PNG.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Final

from babel.numbers import format_decimal, format_percent

from bot.i18n import N_, Translator, translator
from bot.stats import NONE_KEY, Figures, Period, StatsService, media_keys

FORMATS: Final = ("html", "csv", "json")
MEDIA_LABELS: Final = {
    "ebook": N_("e-books and audiobooks"),
    "press": N_("online press"),
    "video": N_("films and video"),
    "music": N_("music"),
    "training": N_("self-training"),
    "game": N_("video games"),
}
TOPIC_LABELS: Final = {"events": N_("workshops and events"), "news": N_("network news")}
KIND_LABELS: Final = {
    "vote": N_("votes on answers"),
    "workshop": N_("workshop ratings"),
    "free": N_("free remarks (/avis)"),
    "survey": N_("satisfaction survey"),
}
METRIC_LABELS: Final = {
    "active": N_("active patrons"),
    "questions": N_("questions"),
    "answered": N_("answered"),
    "unanswered": N_("unanswered"),
    "card_views": N_("cards viewed"),
    "registrations": N_("workshop registrations"),
    "unregistrations": N_("cancelled registrations"),
    "attendance": N_("workshop attendance"),
    "broadcasts_sent": N_("announcements sent"),
    "broadcasts_reached": N_("patrons reached by announcements"),
    "subscriptions": N_("new subscriptions"),
    "unsubscriptions": N_("unsubscriptions"),
}
TABLE_METRICS: Final = (
    "active",
    "questions",
    "unanswered",
    "card_views",
    "registrations",
    "attendance",
    "broadcasts_reached",
)
COLORS: Final = ("#1f5c99", "#e07b39", "#4c9a5b", "#b04a6f", "#7a6bb0", "#c9a227")


@dataclass(frozen=True, slots=True)
class Report:
    content: bytes
    filename: str
    mime_type: str
    figures: Figures


def media_label(t: Translator, key: str | None) -> str:
    if not key:
        return t("not specific to a media type")
    return t(MEDIA_LABELS[key]) if key in MEDIA_LABELS else key


def topic_label(t: Translator, topic: str) -> str:
    if topic.startswith("media:"):
        return media_label(t, topic.removeprefix("media:"))
    return t(TOPIC_LABELS[topic]) if topic in TOPIC_LABELS else topic


def library_label(t: Translator, figures: Figures, key: str | None) -> str:
    if not key:
        return t("no library chosen")
    return figures.library_names.get(key, key)


def number(t: Translator, value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=t.locale)


def percent(t: Translator, value: float | None) -> str:
    return "—" if value is None else format_percent(value, locale=t.locale)


async def build_report(
    stats: StatsService,
    period: Period,
    *,
    library_id: str | None = None,
    fmt: str = "html",
    language: str = "fr",
) -> Report:
    """Aggregates in SQL, renders in a thread; ``fmt`` is html, csv or json."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    figures = await stats.figures(period, library_id)
    t = translator(language, str(stats.tz))
    content = await asyncio.to_thread(RENDERERS[fmt], figures, t)
    scope = f"-{library_id}" if library_id else ""
    name = f"plume-report-{period.start.isoformat()}-{period.end.isoformat()}{scope}.{fmt}"
    mime = {"html": "text/html", "csv": "text/csv", "json": "application/json"}[fmt]
    return Report(content, name, mime, figures)


# JSON ---------------------------------------------------------------------------------


def to_data(figures: Figures) -> dict[str, Any]:
    """The figures as plain JSON-ready data (same numbers as the HTML report)."""
    period = figures.period
    return {
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "days": period.days,
            "time_zone": str(period.tz),
            "granularity": period.granularity,
        },
        "library": figures.library_id,
        "generated_at": figures.generated_at.isoformat(),
        "totals": figures.totals,
        "active_patrons": {
            "total": int(figures.active["total"]),
            "per_day_average": round(figures.active["day_avg"], 2),
            "per_week_average": round(figures.active["week_avg"], 2),
            "per_month_average": round(figures.active["month_avg"], 2),
            "per_day": [[d.isoformat(), n] for d, n in figures.active_series["day"]],
            "per_week": [[d.isoformat(), n] for d, n in figures.active_series["week"]],
            "per_month": [[d.isoformat(), n] for d, n in figures.active_series["month"]],
        },
        "by_media_type": {k or "none": v for k, v in sorted(figures.by_media.items())},
        "by_library": {k or "none": v for k, v in sorted(figures.by_library.items())},
        "series": [{**p, "start": p["start"].isoformat()} for p in figures.series],
        "top_resources": figures.top_resources,
        "subscribers": dict(sorted(figures.subscribers.items())),
        "subscribers_by_library": {
            k or "none": v for k, v in sorted(figures.subscribers_by_library.items())
        },
        "feedback": _json_feedback(figures.feedback),
        "workshops": {
            "summary": figures.workshop_summary,
            "list": [
                {
                    "id": w.id,
                    "title": w.title,
                    "library": w.library_id,
                    "starts_at": w.starts_at.isoformat(),
                    "capacity": w.capacity,
                    "media_type": w.media_type,
                    "cancelled": w.cancelled,
                    "registered": w.registered,
                    "waiting": w.waiting,
                    "attended": w.attended,
                    "ratings": w.ratings,
                    "average_rating": w.average_rating,
                }
                for w in figures.workshops
            ],
        },
        "unanswered_questions": [
            {"text": g.text, "count": g.count, "variants": g.variants} for g in figures.unanswered
        ],
        "comments": [{**c, "created_at": c["created_at"].isoformat()} for c in figures.comments],
    }


def _json_feedback(feedback: dict[str, Any]) -> dict[str, Any]:
    def keyed(groups: dict[str, Any]) -> dict[str, Any]:
        return {k or "none": v for k, v in sorted(groups.items())}

    return {
        **feedback,
        "by_kind": {
            kind: {**entry, "distribution": {str(r): n for r, n in entry["distribution"].items()}}
            for kind, entry in sorted(feedback["by_kind"].items())
        },
        "by_media": keyed(feedback["by_media"]),
        "by_library": keyed(feedback["by_library"]),
    }


def render_json(figures: Figures, t: Translator) -> bytes:
    return json.dumps(to_data(figures), ensure_ascii=False, indent=2).encode()


# CSV ----------------------------------------------------------------------------------


def render_csv(figures: Figures, t: Translator) -> bytes:
    """One row per figure: section, group, metric, value (the same numbers as the HTML)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["section", "group", "metric", "value"])
    data = to_data(figures)
    writer.writerow(["period", "", "from", data["period"]["from"]])
    writer.writerow(["period", "", "to", data["period"]["to"]])
    writer.writerow(["period", "", "library", figures.library_id or ""])
    for metric, value in figures.totals.items():
        writer.writerow(["totals", "", metric, value])
    for name, value in data["active_patrons"].items():
        if not isinstance(value, list):
            writer.writerow(["active_patrons", "", name, value])
    for section, groups in (("media_type", figures.by_media), ("library", figures.by_library)):
        for key, metrics in sorted(groups.items()):
            for metric, value in metrics.items():
                writer.writerow([section, key or "none", metric, value])
    for point in data["series"]:
        for metric, value in point.items():
            if metric != "start":
                writer.writerow(["series", point["start"], metric, value])
    for topic, value in sorted(figures.subscribers.items()):
        writer.writerow(["subscribers", topic, "subscribers", value])
    for kind, entry in data["feedback"]["by_kind"].items():
        for metric in ("count", "rated", "average", "comments"):
            writer.writerow(["feedback", kind, metric, entry[metric]])
        for rating, n in entry["distribution"].items():
            writer.writerow(["feedback", kind, f"rating_{rating}", n])
    for metric, value in data["feedback"]["votes"].items():
        writer.writerow(["feedback", "vote", metric, value])
    for metric, value in data["feedback"]["survey"].items():
        writer.writerow(["feedback", "survey", metric, value])
    for metric, value in figures.workshop_summary.items():
        writer.writerow(["workshops", "", metric, value])
    for w in data["workshops"]["list"]:
        for metric in ("registered", "attended", "average_rating"):
            writer.writerow(["workshop", w["id"], metric, w[metric]])
    for group in figures.unanswered:
        writer.writerow(["unanswered", group.text, "count", group.count])
    for resource in figures.top_resources:
        writer.writerow(["card_views", resource["id"], "views", resource["views"]])
    return ("\ufeff" + out.getvalue()).encode()


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Rows as a CSV file Excel and LibreOffice open directly (BOM, ``;``)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


# Charts -------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # Agg through savefig; no pyplot state

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _legend(axes: Any) -> None:
    """Above the plot, in one row, so that it never hides a bar."""
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False, fontsize=9)


def _style(axes: Any) -> None:
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def trend_chart(figures: Figures, t: Translator) -> bytes:
    """Questions (bars) and active patrons (line) per day, week or month."""
    points = figures.series
    figure = _figure(8, 3.2)
    axes = figure.add_subplot()
    x = list(range(len(points)))
    axes.bar(
        x, [p["questions"] for p in points], color=COLORS[0], alpha=0.75, label=t("questions")
    )
    axes.plot(
        x,
        [p["active"] for p in points],
        color=COLORS[1],
        marker="o" if len(points) <= 31 else None,
        linewidth=2,
        label=t("active patrons"),
    )
    step = max(1, len(points) // 12)
    axes.set_xticks(x[::step], [t.short_date(p["start"]) for p in points][::step])
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    _legend(axes)
    _style(axes)
    return _png(figure)


def media_chart(figures: Figures, t: Translator) -> bytes:
    keys = [k for k in media_keys(figures) if k]
    series = (
        (t("questions"), [figures.by_media.get(k, {}).get("questions", 0) for k in keys]),
        (t("cards viewed"), [figures.by_media.get(k, {}).get("card_views", 0) for k in keys]),
        (t("subscribers"), [figures.subscribers.get(f"media:{k}", 0) for k in keys]),
    )
    figure = _figure(8, 3.4)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for index, (label, values) in enumerate(series):
        axes.bar(
            [i + index * width for i in range(len(keys))],
            values,
            width,
            label=label,
            color=COLORS[index],
        )
    axes.set_xticks(
        [i + width for i in range(len(keys))],
        [textwrap.fill(media_label(t, k), 16) for k in keys],
        fontsize=8,
    )
    _legend(axes)
    _style(axes)
    return _png(figure)


def library_chart(figures: Figures, t: Translator, limit: int = 15) -> bytes:
    rows = sorted(
        figures.by_library.items(), key=lambda kv: -kv[1]["questions"] - kv[1]["card_views"]
    )[:limit]
    rows.reverse()
    figure = _figure(8, max(2.5, 0.35 * len(rows) + 1))
    axes = figure.add_subplot()
    y = list(range(len(rows)))
    axes.barh([i + 0.2 for i in y], [r["questions"] for _, r in rows], 0.4, label=t("questions"))
    axes.barh(
        [i - 0.2 for i in y],
        [r["active"] for _, r in rows],
        0.4,
        label=t("active patrons"),
        color=COLORS[1],
    )
    axes.set_yticks(y, [library_label(t, figures, k) for k, _ in rows], fontsize=8)
    _legend(axes)
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def satisfaction_chart(figures: Figures, t: Translator) -> bytes:
    kinds = figures.feedback["by_kind"]
    figure = _figure(8, 3)
    axes = figure.add_subplot()
    ratings = list(range(1, 6))
    for index, kind in enumerate(("workshop", "free")):
        dist = kinds.get(kind, {}).get("distribution", {})
        axes.bar(
            [r + (index - 0.5) * 0.4 for r in ratings],
            [dist.get(r, 0) for r in ratings],
            0.4,
            label=t(KIND_LABELS[kind]),
            color=COLORS[index + 2],
        )
    axes.set_xticks(ratings, [f"{r} ★" for r in ratings])
    _legend(axes)
    _style(axes)
    return _png(figure)


# HTML ---------------------------------------------------------------------------------

CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2733;
background:#f4f6f9;line-height:1.45}
main{max-width:960px;margin:0 auto;padding:24px 28px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px;color:#1f5c99}h2{font-size:1.2em;margin:32px 0 8px;
border-bottom:2px solid #1f5c99;padding-bottom:4px}
.sub{color:#5b6775;margin:0 0 16px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.kpi{background:#eef3f9;border-radius:8px;padding:10px 12px}
.kpi b{display:block;font-size:1.6em;color:#1f5c99}.kpi span{font-size:.9em;color:#3d4a58}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid #dde3ea;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f3f7}
img{max-width:100%;height:auto;display:block;margin:8px 0}
blockquote{margin:8px 0;padding:6px 12px;border-left:4px solid #e07b39;background:#fbf5f0}
.meta{color:#6b7785;font-size:.85em}footer{margin-top:32px;color:#6b7785;font-size:.85em}
@media print{body{background:#fff}main{padding:0}}
"""


def _e(text: str) -> str:
    """Text content: <, > and & escaped (quotes need no escaping outside attributes)."""
    return escape(text, quote=False)


def _tag(name: str, text: str) -> str:
    return f"<{name}>{_e(text)}</{name}>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _stars(t: Translator, value: float | None) -> str:
    return "—" if value is None else f"{number(t, value, 1)} / 5"


def render_html(figures: Figures, t: Translator) -> bytes:
    period = figures.period
    totals = figures.totals
    feedback = figures.feedback
    summary = figures.workshop_summary
    e = _e
    scope = (
        library_label(t, figures, figures.library_id) if figures.library_id else t("whole network")
    )
    answer_rate = totals["answered"] / totals["questions"] if totals["questions"] else None
    ratings = [k for k in ("workshop", "free") if feedback["by_kind"].get(k, {}).get("rated")]
    rated = sum(feedback["by_kind"][k]["rated"] for k in ratings)
    average = (
        sum(feedback["by_kind"][k]["average"] * feedback["by_kind"][k]["rated"] for k in ratings)
        / rated
        if rated
        else None
    )
    subscribers_total = sum(figures.subscribers.values())
    kpis = [
        (number(t, totals["active"]), t("active patrons")),
        (number(t, figures.active["day_avg"], 1), t("active patrons per day (average)")),
        (number(t, totals["questions"]), t("questions asked")),
        (percent(t, answer_rate), t("questions answered")),
        (number(t, totals["card_views"]), t("cards viewed")),
        (number(t, totals["registrations"]), t("workshop registrations")),
        (number(t, summary["held"]), t("workshops held")),
        (percent(t, summary["attendance_rate"]), t("attendance at workshops")),
        (number(t, subscribers_total), t("subscriptions to announcements")),
        (number(t, totals["broadcasts_reached"]), t("patrons reached by announcements")),
        (_stars(t, average), t("average rating")),
        (percent(t, feedback["votes"]["share_up"]), t("answers found useful (👍)")),
    ]
    parts: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{t.locale}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        "<title>" + e(t("Evaluation report")) + f" {period.start} – {period.end}</title>",
        f"<style>{CSS}</style></head><body><main>",
        _tag("h1", t("Evaluation report of the digital library")),
        '<p class="sub">'
        + e(
            t(
                "From {start} to {end} · {scope}",
                start=t.date(period.start),
                end=t.date(period.end),
                scope=scope,
            )
        )
        + "</p>",
        _tag("h2", t("Key figures")),
        "<div class=kpis>",
        *(f'<div class="kpi"><b>{e(v)}</b><span>{e(label)}</span></div>' for v, label in kpis),
        "</div>",
    ]
    step = {"day": t("per day"), "week": t("per week"), "month": t("per month")}
    parts += [
        _tag("h2", t("Use over the period") + f" ({step[period.granularity]})"),
        _img(trend_chart(figures, t), t("Questions and active patrons over time")),
        '<p class="meta">'
        + e(
            t(
                "Active patrons: {day} per day, {week} per week, {month} per month on average; "
                "{total} different patrons over the period.",
                day=number(t, figures.active["day_avg"], 1),
                week=number(t, figures.active["week_avg"], 1),
                month=number(t, figures.active["month_avg"], 1),
                total=number(t, totals["active"]),
            )
        )
        + "</p>",
    ]
    media = media_keys(figures)
    head = [t("media type"), *(t(METRIC_LABELS[m]) for m in TABLE_METRICS), t("subscribers")]
    rows = [
        [
            e(media_label(t, k)),
            *(number(t, figures.by_media.get(k, {}).get(m, 0)) for m in TABLE_METRICS),
            number(t, figures.subscribers.get(f"media:{k}", 0)) if k else "—",
        ]
        for k in media
    ]
    parts += [_tag("h2", t("By media type"))]
    if any(k for k in media):
        parts.append(_img(media_chart(figures, t), t("Use by media type")))
    parts.append(_table(head, rows) or _tag("p", t("No activity recorded.")))
    other_topics = [(k, v) for k, v in sorted(figures.subscribers.items()) if k in TOPIC_LABELS]
    if other_topics:
        parts.append(
            '<p class="meta">'
            + e(
                ", ".join(
                    t("{topic}: {n} subscribers", topic=topic_label(t, k), n=number(t, v))
                    for k, v in other_topics
                )
            )
            + "</p>"
        )
    if not figures.library_id and figures.by_library:
        parts += [
            _tag("h2", t("By library")),
            _img(library_chart(figures, t), t("Use by library")),
        ]
        libraries = sorted(
            figures.by_library.items(),
            key=lambda kv: library_label(t, figures, kv[0]).casefold(),
        )
        parts.append(
            _table(
                [t("library"), *(t(METRIC_LABELS[m]) for m in TABLE_METRICS)],
                [
                    [
                        e(library_label(t, figures, k)),
                        *(number(t, v.get(m, 0)) for m in TABLE_METRICS),
                    ]
                    for k, v in libraries
                ],
            )
        )
    parts += _satisfaction_html(figures, t, average)
    parts += _workshops_html(figures, t)
    if figures.top_resources:
        parts += [
            _tag("h2", t("Most viewed cards")),
            _table(
                [t("card"), t("media type"), t("views")],
                [
                    [
                        e(figures.resource_names.get(r["id"], r["id"])),
                        e(media_label(t, r["media_type"])),
                        number(t, r["views"]),
                    ]
                    for r in figures.top_resources
                ],
            ),
        ]
    parts.append(_tag("h2", t("Most frequent unanswered questions")))
    if figures.unanswered:
        parts.append(
            _table(
                [t("question"), t("times asked"), t("similar wordings")],
                [
                    [e(g.text), number(t, g.count), e(" · ".join(g.variants[:3]))]
                    for g in figures.unanswered[:15]
                ],
            )
        )
    else:
        parts.append(_tag("p", t("Every question received an answer.")))
    parts.append(_tag("h2", t("What patrons say")))
    if figures.comments:
        for c in figures.comments:
            rating = "" if c["rating"] is None else _rating_text(t, c["kind"], c["rating"])
            parts.append(
                f"<blockquote>{e(c['comment'])}<div class=meta>"
                f"{e(t(KIND_LABELS.get(c['kind'], c['kind'])))}"
                f"{' · ' + e(rating) if rating else ''} · {e(t.short_date(c['created_at']))}"
                "</div></blockquote>"
            )
    else:
        parts.append(_tag("p", t("No comments over the period.")))
    parts.append(
        "<footer>"
        + e(
            t(
                "Produced by Plume on {date}. Patrons are counted, never named: an active patron "
                "did at least one thing with Plume over the period. Subscribers are counted on "
                "the day of the report.",
                date=t.datetime(figures.generated_at),
            )
        )
        + "</footer></main></body></html>"
    )
    return "\n".join(p for p in parts if p).encode()


def _rating_text(t: Translator, kind: str, rating: int) -> str:
    if kind == "vote":
        return "👍" if rating else "👎"
    if kind == "survey":
        return f"{rating}/10"
    return f"{rating} ★"


def _satisfaction_html(figures: Figures, t: Translator, average: float | None) -> list[str]:
    e = _e
    feedback = figures.feedback
    kinds = feedback["by_kind"]
    parts = [_tag("h2", t("Satisfaction"))]
    if not kinds:
        return [*parts, _tag("p", t("No feedback over the period."))]
    rows = []
    for kind in ("vote", "workshop", "free", "survey"):
        entry = kinds.get(kind)
        if not entry:
            continue
        if kind == "vote":
            result = t(
                "{up} 👍 · {down} 👎",
                up=number(t, feedback["votes"]["up"]),
                down=number(t, feedback["votes"]["down"]),
            )
        elif kind == "survey":
            survey = feedback["survey"]
            result = t(
                "{answered} answers out of {sent} sent · average {average}/10 · NPS {nps}",
                answered=number(t, survey["answered"]),
                sent=number(t, survey["sent"]),
                average=number(t, survey["average"], 1),
                nps=number(t, survey["nps"]),
            )
        else:
            result = _stars(t, entry["average"])
        rows.append(
            [
                e(t(KIND_LABELS[kind])),
                number(t, entry["count"]),
                number(t, entry["comments"]),
                e(result),
            ]
        )
    parts.append(_table([t("feedback"), t("number"), t("with a comment"), t("result")], rows))
    if any(kinds.get(k, {}).get("rated") for k in ("workshop", "free")):
        parts.append(_img(satisfaction_chart(figures, t), t("Ratings from 1 to 5")))
    by_media = feedback["by_media"]
    media_rows = [
        [
            e(media_label(t, k)),
            number(t, v["up"]),
            number(t, v["down"]),
            _stars(t, v["average"]),
        ]
        for k, v in sorted(by_media.items())
        if v["up"] or v["down"] or v["rated"]
    ]
    if media_rows:
        parts.append(_table([t("media type"), "👍", "👎", t("average rating")], media_rows))
    return parts


def _workshops_html(figures: Figures, t: Translator) -> list[str]:
    e = _e
    summary = figures.workshop_summary
    parts = [_tag("h2", t("Workshops"))]
    if not figures.workshops:
        return [*parts, _tag("p", t("No workshop over the period."))]
    parts.append(
        "<p>"
        + e(
            t(
                "{held} workshops held ({cancelled} cancelled), {registered} registered for "
                "{seats} seats, {attended} attended; average rating {rating}.",
                held=number(t, summary["held"]),
                cancelled=number(t, summary["cancelled"]),
                registered=number(t, summary["registered"]),
                seats=number(t, summary["seats"]),
                attended=number(t, summary["attended"]),
                rating=_stars(t, summary["average_rating"]),
            )
        )
        + "</p>"
    )
    rows = [
        [
            e(w.title) + (" <i>(" + e(t("cancelled")) + ")</i>" if w.cancelled else ""),
            e(library_label(t, figures, w.library_id)),
            e(t.short_date(w.starts_at)),
            f"{number(t, w.registered)} / {number(t, w.capacity)}",
            number(t, w.attended) if w.attendance_known else "—",
            _stars(t, w.average_rating),
        ]
        for w in figures.workshops
    ]
    parts.append(
        _table(
            [t("workshop"), t("library"), t("date"), t("registered"), t("attended"), t("rating")],
            rows,
        )
    )
    return parts


RENDERERS: Final[dict[str, Callable[[Figures, Translator], bytes]]] = {
    "html": render_html,
    "csv": render_csv,
    "json": render_json,
}


def stats_chart(figures: Figures, t: Translator) -> bytes:
    """The trend chart /stats sends (PNG)."""
    return trend_chart(figures, t)


__all__ = ["NONE_KEY", "Report", "build_report", "csv_bytes", "render_html", "to_data"]


# Command line: python -m bot report ----------------------------------------------------


def add_report_arguments(parser: Any) -> None:
    parser.add_argument("--from", dest="start", required=True, help="first day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="end", required=True, help="last day, included")
    parser.add_argument("--library", help="only this library (its id)")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, default="html", help="default: html"
    )
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="default: fr")
    parser.add_argument(
        "--output", "-o", help="file to write (default: plume-report-….<format> here; - = stdout)"
    )
    parser.add_argument(
        "--rebuild-rollups",
        action="store_true",
        help="recompute the statistics tables from the usage events first (after a bulk load)",
    )


async def report_main(args: Any, engine: Any, tz: Any) -> int:
    """``python -m bot report``: writes the report; 2 on bad dates, 1 on an unknown library."""
    import sys
    from pathlib import Path

    from sqlalchemy import select

    from bot.stats import PeriodError, parse_date, rebuild_rollups
    from storage.models import Library

    try:
        period = Period.between(parse_date(args.start), parse_date(args.end), tz)
    except PeriodError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    if args.library:
        async with engine.connect() as conn:
            if await conn.scalar(select(Library.id).where(Library.id == args.library)) is None:
                print(f"report: unknown library {args.library!r}", file=sys.stderr)
                return 1
    if args.rebuild_rollups:
        await rebuild_rollups(engine, tz)
    report = await build_report(
        StatsService(engine, tz), period, library_id=args.library, fmt=args.fmt, language=args.lang
    )
    if args.output == "-":
        sys.stdout.buffer.write(report.content)
        return 0
    path = Path(args.output or report.filename)
    await asyncio.to_thread(path.write_bytes, report.content)
    print(f"report written to {path} ({len(report.content):,} bytes)")
    return 0
