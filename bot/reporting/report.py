"""The evaluation report ("document synthétique d'évaluation"): HTML, PDF, CSV or JSON.

:func:`build_report` gathers the :class:`~bot.stats.service.Figures` (this period and the previous
one of the same length) in SQL, then renders them in a thread so a running bot stays
responsive. Every format reads the same ``Figures``: the JSON is :func:`to_data`, the CSV
flattens that same data, the HTML and the PDF (the HTML printed by headless Chromium or
WeasyPrint: :mod:`bot.reporting.pdf`) show it.
The HTML document is self-contained: inline CSS, vector charts as inline SVG, a table for
each chart, no script.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Final

from bot.i18n import N_, Np_, Translator, translator
from bot.reporting import formats
from bot.reporting.pdf import ChromiumPrinter, html_to_pdf, uses_chromium
from bot.reporting.svg import bar_chart
from bot.shared.labels import MEDIA_IN_TEXT
from bot.stats.metrics import NONE_KEY
from bot.stats.period import Period
from bot.stats.queries import FEEDBACK_EXPORT_FIELDS, USAGE_EXPORT_FIELDS, StatsService
from bot.stats.rollups import SURVEY_FIELDS, media_keys, workshop_summary
from bot.stats.shaping import Figures, WorkshopFigures
from storage.models import MEDIA_TYPES

FORMATS: Final = ("html", "pdf", "csv", "json", "survey")
MIME: Final = {
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "json": "application/json",
    "survey": "text/csv",
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
    "visits": N_("chat sessions"),
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
PLATFORM_METRICS: Final = (
    "sessions",
    "searches",
    "item_requests",
    "unique_item_requests",
    "loans",
    "active_users",
)
PLATFORM_LABELS: Final = {
    "sessions": N_("sessions"),
    "searches": N_("searches"),
    "item_requests": N_("consultations (item requests)"),
    "unique_item_requests": N_("unique item requests"),
    "loans": N_("loans"),
    "active_users": N_("active users"),
}
SURVEY_LABELS: Final = {
    "active_patrons": N_("Active users of the digital offer"),
    "training_sessions": N_("User training: sessions"),
    "training_participants": N_("User training: participants"),
    "training_hours": N_("User training: hours"),
    "questions_answered": N_("Electronic services: questions answered"),
    "chat_sessions": N_("Electronic services: sessions"),
    "platform_consultations": N_("Electronic services: consultations of the resources"),
    "events_announced": N_("Cultural action: events announced"),
    "registrations": N_("Cultural action: registrations"),
}
#: longer lists are summed up (workshops per library, the most consulted resources)
LIST_LIMIT: Final = 30
TABLE_METRICS: Final = (
    "active",
    "questions",
    "unanswered",
    "card_views",
    "registrations",
    "attendance",
    "broadcasts_reached",
)


#: count phrases, shown by :func:`counted` (``{n}`` formatted as a number)
PHRASES: Final = {
    "active_patron": Np_("{n} active patron", "{n} active patrons"),
    "question_asked": Np_("{n} question asked", "{n} questions asked"),
    "workshop_held": Np_("{n} workshop held", "{n} workshops held"),
    "participant": Np_("{n} participant", "{n} participants"),
    "more_planned": Np_("{n} more planned", "{n} more planned"),
    "different_patron": Np_("{n} different patron", "{n} different patrons"),
    "subscriber": Np_("{n} subscriber", "{n} subscribers"),
    "cancelled": Np_("{n} cancelled", "{n} cancelled"),
    "registered_patron": Np_("{n} registered patron", "{n} registered patrons"),
    "seat": Np_("{n} seat", "{n} seats"),
    "answer": Np_("{n} answer", "{n} answers"),
    "time": Np_("{n} time", "{n} times"),
    "platform_consultation": Np_(
        "The platforms report {n} consultation of the digital resources{change}.",
        "The platforms report {n} consultations of the digital resources{change}.",
    ),
    "row": Np_("{name}: {n} row", "{name}: {n} rows"),
}


def counted(t: Translator, key: str, n: int, **values: object) -> str:
    """``1 atelier tenu`` / ``2 ateliers tenus``: a count phrase of :data:`PHRASES`."""
    singular, plural = PHRASES[key]
    return t.tn(singular, plural, n, n=number(t, n), **values)


@dataclass(frozen=True, slots=True)
class Report:
    content: bytes
    filename: str
    mime_type: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class Branding:
    """What the cover shows (the network's name, an optional logo file), and what prints the
    PDF (``auto``: headless Chromium when installed, else WeasyPrint)."""

    network_name: str = "Bibliothèque numérique départementale"
    logo: Path | None = None
    pdf_engine: str = "auto"


def media_label(t: Translator, key: str | None) -> str:
    if not key:
        return t("not specific to a media type")
    return t(MEDIA_IN_TEXT[key]) if key in MEDIA_IN_TEXT else key


def topic_label(t: Translator, topic: str) -> str:
    if topic.startswith("media:"):
        return media_label(t, topic.removeprefix("media:"))
    return t(TOPIC_LABELS[topic]) if topic in TOPIC_LABELS else topic


def library_label(t: Translator, figures: Figures, key: str | None) -> str:
    if not key:
        return t("no library chosen")
    return figures.library_names.get(key, key)


def number(t: Translator, value: float | int | None, digits: int = 0) -> str:
    return formats.number(t.locale, value, digits)


def percent(t: Translator, value: float | None, digits: int = 0) -> str:
    return formats.percent(t.locale, value, digits)


def default_period(tz: Any, today: dt.date | None = None) -> Period:
    """The last 12 full months (e.g. on 15 March 2026: March 2025 to February 2026)."""
    today = today or dt.datetime.now(tz).date()
    end = today.replace(day=1) - dt.timedelta(days=1)
    start = end.replace(day=1)
    for _ in range(11):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return Period(start, end, tz, "year")


def year_period(year: int, tz: Any) -> Period:
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), tz, "year")


async def build_report(
    stats: StatsService,
    period: Period,
    *,
    library_id: str | None = None,
    fmt: str = "html",
    language: str = "fr",
    branding: Branding | None = None,
) -> Report:
    """Aggregates in SQL, renders in a thread; ``fmt`` is one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    t = translator(language, str(stats.tz))
    brand = branding or Branding()
    if fmt == "pdf" and uses_chromium(brand.pdf_engine):
        # the browser starts while the figures are computed: its start-up was most of a PDF
        printer = await ChromiumPrinter.launch()
        try:
            figures = await stats.figures(period, library_id, compare=True)
            html = await asyncio.to_thread(render_html, figures, t, brand, for_print=True)
            content = await printer.print(html.decode())
        finally:
            await printer.close()
    else:
        figures = await stats.figures(period, library_id, compare=True)
        content = await asyncio.to_thread(RENDERERS[fmt], figures, t, brand)
    scope = f"-{library_id}" if library_id else ""
    kind = "survey" if fmt == "survey" else "report"
    ext = "csv" if fmt == "survey" else fmt
    name = f"plume-{kind}-{period.start.isoformat()}-{period.end.isoformat()}{scope}.{ext}"
    return Report(content, name, MIME[fmt], figures)


# The figures shown first, with the previous period --------------------------------------


def key_figures(figures: Figures) -> list[tuple[str, float | None, bool]]:
    """(name, value, is a rate) of the key figures, the same in every format."""
    totals = figures.totals
    summary = figures.workshop_summary
    return [
        ("active_patrons", totals["active"], False),
        ("chat_sessions", totals["visits"], False),
        ("questions", totals["questions"], False),
        (
            "answer_rate",
            totals["answered"] / totals["questions"] if totals["questions"] else None,
            True,
        ),
        ("cards_viewed", totals["card_views"], False),
        ("workshops_held", summary["held"], False),
        ("workshop_participants", summary["participants"], False),
        ("workshop_registrations", totals["registrations"], False),
        ("patrons_reached_by_announcements", totals["broadcasts_reached"], False),
        ("platform_consultations", figures.platform_totals().get("item_requests", 0), False),
    ]


KEY_LABELS: Final = {
    "active_patrons": N_("active patrons"),
    "chat_sessions": N_("chat sessions"),
    "questions": N_("questions asked"),
    "answer_rate": N_("questions answered"),
    "cards_viewed": N_("cards viewed"),
    "workshops_held": N_("workshops held"),
    "workshop_participants": N_("workshop participants"),
    "workshop_registrations": N_("workshop registrations"),
    "patrons_reached_by_announcements": N_("patrons reached by announcements"),
    "platform_consultations": N_("consultations of the digital resources"),
}


def comparison(figures: Figures) -> list[dict[str, Any]]:
    previous = (
        dict((n, v) for n, v, _ in key_figures(figures.previous)) if figures.previous else {}
    )
    rows = []
    for name, value, rate in key_figures(figures):
        before = previous.get(name)
        diff = None if value is None or before is None else value - before
        change = None
        if not rate and diff is not None and before:
            change = diff / before
        rows.append(
            {
                "figure": name,
                "value": value,
                "previous": before,
                "difference": diff,
                "change": change,
                "rate": rate,
            }
        )
    return rows


def summary_text(figures: Figures, t: Translator) -> list[str]:
    """The plain-language summary at the top, computed from the figures."""
    loc = t.locale
    rows = {r["figure"]: r for r in comparison(figures)}

    def change(name: str) -> str:
        c = rows[name]["change"]
        if c is None:
            return ""
        return t(
            " ({change} compared with the previous period)", change=formats.signed_percent(loc, c)
        )

    totals = figures.totals
    summary = figures.workshop_summary
    period = figures.period
    sentences = [
        t(
            "From {start} to {end}: {patrons}{change}, {questions}, {rate} of them answered.",
            start=formats.long_date(loc, period.start),
            end=formats.long_date(loc, period.end),
            patrons=counted(t, "active_patron", totals["active"]),
            change=change("active_patrons"),
            questions=counted(t, "question_asked", totals["questions"]),
            rate=percent(t, rows["answer_rate"]["value"]),
        )
    ]
    sentences.append(
        t(
            "{workshops} with {participants}; {upcoming}.",
            workshops=counted(t, "workshop_held", summary["held"]),
            participants=counted(t, "participant", summary["participants"]),
            upcoming=counted(t, "more_planned", summary["upcoming"]),
        )
    )
    consultations = figures.platform_totals().get("item_requests", 0)
    if figures.platform:
        sentences.append(
            counted(
                t, "platform_consultation", consultations, change=change("platform_consultations")
            )
        )
    votes = figures.feedback["votes"]["share_up"]
    if votes is not None:
        sentences.append(
            t("{share} of the answers rated were found useful.", share=percent(t, votes))
        )
    return sentences


# JSON ---------------------------------------------------------------------------------


def to_data(figures: Figures, t: Translator | None = None) -> dict[str, Any]:
    """The figures as plain JSON-ready data (same numbers as the HTML report)."""
    period = figures.period
    t = t or translator("fr", str(period.tz))
    data: dict[str, Any] = {
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "days": period.days,
            "time_zone": str(period.tz),
            "granularity": period.granularity,
        },
        "library": figures.library_id,
        "generated_at": figures.generated_at.isoformat(),
        "summary": summary_text(figures, t),
        "key_figures": [
            {k: v for k, v in row.items() if k != "rate"} for row in comparison(figures)
        ],
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
                    "duration_min": w.duration_min,
                    "capacity": w.capacity,
                    "media_type": w.media_type,
                    "status": w.status,
                    "registered": w.registered,
                    "waiting": w.waiting,
                    "attended": w.attended,
                    "participants": w.participants,
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
        "platform_usage": [
            {
                "resource_id": p.resource_id,
                "resource": p.name,
                "media_type": p.media_type,
                "month": p.month.isoformat()[:7],
                "metric": p.metric,
                "value": p.value,
            }
            for p in figures.platform
        ],
        "platform_totals": dict(sorted(figures.platform_totals().items())),
        "national_survey": {
            (k or "total"): v for k, v in sorted(figures.survey().items(), key=_total_last)
        },
    }
    return data


def _total_last(item: tuple[str, Any]) -> tuple[bool, str]:
    return (item[0] == "", item[0])


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


def render_json(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    return json.dumps(to_data(figures, t), ensure_ascii=False, indent=2).encode()


# CSV ----------------------------------------------------------------------------------


def render_csv(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    """One row per figure: section, group, metric, value (the same numbers as the JSON)."""
    data = to_data(figures, t)
    rows: list[list[Any]] = [
        ["period", "", "from", data["period"]["from"]],
        ["period", "", "to", data["period"]["to"]],
        ["period", "", "library", figures.library_id or ""],
    ]
    for row in data["key_figures"]:
        for metric in ("value", "previous", "difference", "change"):
            rows.append(["key_figures", row["figure"], metric, _cell(row[metric])])
    rows += [["totals", "", metric, value] for metric, value in figures.totals.items()]
    for name, value in data["active_patrons"].items():
        if not isinstance(value, list):
            rows.append(["active_patrons", "", name, value])
    for section, groups in (("media_type", figures.by_media), ("library", figures.by_library)):
        for key, metrics in sorted(groups.items()):
            rows += [[section, key or "none", metric, value] for metric, value in metrics.items()]
    for point in data["series"]:
        rows += [["series", point["start"], m, v] for m, v in point.items() if m != "start"]
    rows += [["subscribers", k, "subscribers", v] for k, v in sorted(figures.subscribers.items())]
    for kind, entry in data["feedback"]["by_kind"].items():
        for metric in ("count", "rated", "average", "comments"):
            rows.append(["feedback", kind, metric, _cell(entry[metric])])
        rows += [["feedback", kind, f"rating_{r}", n] for r, n in entry["distribution"].items()]
    rows += [["feedback", "vote", m, _cell(v)] for m, v in data["feedback"]["votes"].items()]
    rows += [["feedback", "survey", m, _cell(v)] for m, v in data["feedback"]["survey"].items()]
    rows += [["workshops", "", m, _cell(v)] for m, v in figures.workshop_summary.items()]
    for w in data["workshops"]["list"]:
        for metric in ("status", "registered", "participants", "average_rating"):
            rows.append(["workshop", w["title"], metric, _cell(w[metric])])
    rows += [["unanswered", g.text, "count", g.count] for g in figures.unanswered]
    rows += [["card_views", r["title"], "views", r["views"]] for r in figures.top_resources]
    for p in data["platform_usage"]:
        rows.append(["platform_usage", f"{p['resource']} {p['month']}", p["metric"], p["value"]])
    for key, values in data["national_survey"].items():
        rows += [["national_survey", key, m, v] for m, v in values.items()]
    return csv_bytes(rows, ["section", "group", "metric", "value"])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return value


def csv_bytes(rows: Sequence[dict[str, Any] | Sequence[Any]], header: Sequence[str]) -> bytes:
    """Rows as a CSV file Excel and LibreOffice open directly (BOM, ``;``), always with its
    header row, also when there is no row."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    return ("\ufeff" + out.getvalue()).encode()


def survey_rows(figures: Figures, t: Translator) -> tuple[list[str], list[list[Any]]]:
    """The national survey's table: one row per library, then the network's total."""
    header = [t("library"), *(t(SURVEY_LABELS[f]) for f in SURVEY_FIELDS)]
    rows = []
    for key, values in sorted(figures.survey().items(), key=_total_last):
        name = t("Whole network") if key == "" else library_label(t, figures, key)
        rows.append([name, *(values[f] for f in SURVEY_FIELDS)])
    return header, rows


def render_survey(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    header, rows = survey_rows(figures, t)
    return csv_bytes(rows, header)


WORKSHOP_EXPORT_FIELDS: Final = (
    "id",
    "title",
    "library_id",
    "starts_at",
    "duration_min",
    "capacity",
    "media_type",
    "status",
    "registered",
    "waiting",
    "attended",
    "participants",
    "ratings",
    "average_rating",
)


def workshop_rows(figures: Figures) -> list[dict[str, Any]]:
    return [
        {
            "id": w.id,
            "title": w.title,
            "library_id": w.library_id,
            "starts_at": w.starts_at.isoformat(),
            "duration_min": w.duration_min,
            "capacity": w.capacity,
            "media_type": w.media_type or "",
            "status": w.status,
            "registered": w.registered,
            "waiting": w.waiting,
            "attended": w.attended if w.attendance_known else "",
            "participants": w.participants,
            "ratings": w.ratings,
            "average_rating": "" if w.average_rating is None else round(w.average_rating, 2),
        }
        for w in figures.workshops
    ]


EXPORT_FIELDS: Final = {
    "feedback": FEEDBACK_EXPORT_FIELDS,
    "usage": USAGE_EXPORT_FIELDS,
    "workshops": WORKSHOP_EXPORT_FIELDS,
    "platform_usage": ("resource_id", "resource", "media_type", "month", "metric", "value"),
}


# HTML ---------------------------------------------------------------------------------

#: the phone layout (tables become one block per row); left out of the PDF
PHONE_CSS: Final = """
@media screen and (max-width:640px){
main{padding:14px 12px}
table.data,table.data tbody,table.data tr,table.data th,table.data td{display:block;width:100%}
table.data thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.data tr{border-bottom:2px solid #c8d0da;padding:4px 0}
table.data td,table.data tbody th{border:0;text-align:right;padding:2px 4px;
display:flex;justify-content:space-between;gap:12px}
table.data td::before{content:attr(data-label);text-align:left;color:#3d4a58}
table.data tbody th{font-weight:bold;text-align:left}
}
"""
CSS: Final = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d2733;background:#f4f6f9;line-height:1.45;overflow-wrap:break-word}
main{max-width:960px;margin:0 auto;padding:24px 28px;background:#fff}
header.cover{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header.cover img{max-height:72px;max-width:200px}
.network{margin:0;color:#3d4a58;font-weight:bold}
h1{font-size:1.6em;margin:0 0 4px;color:#1f5c99}
h2{font-size:1.2em;margin:32px 0 8px;border-bottom:2px solid #1f5c99;padding-bottom:4px;
break-after:avoid}
h3{font-size:1.05em;margin:18px 0 6px}
.sub{color:#3d4a58;margin:0 0 16px}
.summary{background:#eef3f9;border-left:4px solid #1f5c99;padding:10px 14px}
.summary p{margin:4px 0}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:8px 0;break-inside:auto}
caption{text-align:left;font-weight:bold;padding:4px 0;color:#1d2733}
th,td{padding:5px 8px;border-bottom:1px solid #c8d0da;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}thead th{background:#e8edf3}
tbody th{font-weight:normal}
figure{margin:8px 0}figcaption{font-size:.9em;color:#3d4a58}
svg.chart{width:100%;height:auto;display:block}
blockquote{margin:8px 0;padding:6px 12px;border-left:4px solid #a34a00;background:#fbf5f0}
.meta{color:#3d4a58;font-size:.88em}footer{margin-top:32px;color:#3d4a58;font-size:.88em}
dt{font-weight:bold;margin-top:8px}dd{margin:2px 0 0 0}
@page{size:A4;margin:16mm 14mm 18mm;
@bottom-center{content:counter(page) " / " counter(pages);font-size:9pt;color:#3d4a58}}
@media print{body{background:#fff}main{padding:0;max-width:none}}
"""


def _e(text: str) -> str:
    """Text content: <, > and & escaped (quotes need no escaping outside attributes)."""
    return escape(text, quote=False)


def _tag(name: str, text: str) -> str:
    return f"<{name}>{_e(text)}</{name}>"


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    """A data table: a caption, column headers with scope, the first cell of each row a
    row header; each cell carries its column's name for the phone layout."""
    if not rows:
        return ""
    th = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    body = []
    for row in rows:
        cells = [f'<th scope="row">{row[0]}</th>']
        cells += [
            f'<td data-label="{escape(head[i + 1])}">{c}</td>' for i, c in enumerate(row[1:])
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="data"><caption>{_e(caption)}</caption><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _chart(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _stars(t: Translator, value: float | None) -> str:
    return "—" if value is None else f"{number(t, value, 1)}\u00a0/\u00a05"


def _value(t: Translator, value: float | None, rate: bool) -> str:
    if value is None:
        return "—"
    return percent(t, value) if rate else number(t, value)


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


def render_html(
    figures: Figures, t: Translator, brand: Branding | None = None, *, for_print: bool = False
) -> bytes:
    brand = brand or Branding()
    period = figures.period
    loc = t.locale
    e = _e
    scope = (
        library_label(t, figures, figures.library_id) if figures.library_id else t("whole network")
    )
    parts: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{loc}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        "<title>"
        + e(t("Evaluation report"))
        + " — "
        + e(brand.network_name)
        + f" — {formats.long_date(loc, period.start)} – {formats.long_date(loc, period.end)}"
        + "</title>",
        f"<style>{CSS}{'' if for_print else PHONE_CSS}</style></head><body><main>",
        '<header class="cover">',
    ]
    if brand.logo is not None:
        parts.append(_logo(brand.logo, t))
    parts += [
        "<div>",
        f'<p class="network">{e(brand.network_name)}</p>',
        _tag("h1", t("Evaluation report of the digital library")),
        '<p class="sub">'
        + e(
            t(
                "From {start} to {end} · {scope}",
                start=formats.long_date(loc, period.start),
                end=formats.long_date(loc, period.end),
                scope=scope,
            )
        )
        + "</p></div></header>",
        '<section class="summary" aria-label="' + escape(t("Summary")) + '">',
        *(_tag("p", s) for s in summary_text(figures, t)),
        "</section>",
        _tag("h2", t("Key figures")),
    ]
    previous = figures.previous.period if figures.previous else period.previous()
    head = [
        t("figure"),
        t("this period"),
        t(
            "previous period ({start} – {end})",
            start=t.short_date(previous.start),
            end=t.short_date(previous.end),
        ),
        t("difference"),
        t("change"),
    ]
    rows = []
    for row in comparison(figures):
        diff = row["difference"]
        if row["rate"]:
            diff_text = (
                "—"
                if diff is None
                else t.tn(
                    "{n} point",
                    "{n} points",
                    abs(round(diff * 100)),
                    n=formats.signed_number(loc, round(diff * 100)),
                )
            )
        else:
            diff_text = "—" if diff is None else formats.signed_number(loc, int(diff))
        rows.append(
            [
                e(t(KEY_LABELS[row["figure"]])),
                _value(t, row["value"], row["rate"]),
                _value(t, row["previous"], row["rate"]),
                diff_text,
                formats.signed_percent(loc, row["change"]),
            ]
        )
    parts.append(_table(t("Key figures, compared with the previous period"), head, rows))
    parts += _trend_html(figures, t)
    parts += _media_html(figures, t)
    if not figures.library_id and figures.by_library:
        libraries = sorted(
            figures.by_library.items(), key=lambda kv: library_label(t, figures, kv[0]).casefold()
        )
        parts += [
            _tag("h2", t("By library")),
            _table(
                t("Use by library (the patron's library when they used Plume)"),
                [t("library"), *(t(METRIC_LABELS[m]) for m in TABLE_METRICS)],
                [
                    [
                        e(library_label(t, figures, k)),
                        *(number(t, v.get(m, 0)) for m in TABLE_METRICS),
                    ]
                    for k, v in libraries
                ],
            ),
        ]
    parts += _platform_html(figures, t)
    parts += _workshops_html(figures, t)
    parts += _satisfaction_html(figures, t)
    if figures.top_resources:
        parts += [
            _tag("h2", t("Most viewed cards")),
            _table(
                t("The cards patrons opened most often"),
                [t("card"), t("media type"), t("views")],
                [
                    [e(r["title"]), e(media_label(t, r["media_type"])), number(t, r["views"])]
                    for r in figures.top_resources
                ],
            ),
        ]
    parts.append(_tag("h2", t("Most frequent unanswered questions")))
    if figures.unanswered:
        parts.append(
            _table(
                t("Patron questions Plume could not answer, grouped by similarity"),
                [t("question"), t("times asked"), t("similar wordings")],
                [
                    [e(g.text), number(t, g.count), e(" · ".join(g.variants[:3])) or "—"]
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
    parts += _survey_html(figures, t)
    parts += _methodology_html(t)
    parts.append(
        "<footer>"
        + e(t("Produced by Plume on {date}.", date=t.datetime(figures.generated_at)))
        + "</footer></main></body></html>"
    )
    return "\n".join(p for p in parts if p).encode()


def _logo(path: Path, t: Translator) -> str:
    kind = {".svg": "image/svg+xml", ".png": "image/png"}.get(path.suffix.lower(), "image/jpeg")
    data = base64.b64encode(path.read_bytes()).decode()
    alt = escape(t("Logo of the network"))  # not inside the f-string: Babel would skip it
    return f'<img src="data:{kind};base64,{data}" alt="{alt}">'


def _trend_html(figures: Figures, t: Translator) -> list[str]:
    period = figures.period
    step = {"day": t("per day"), "week": t("per week"), "month": t("per month")}[
        period.granularity
    ]
    points = figures.series
    labels = [
        formats.month_label(t.locale, p["start"])
        if period.granularity == "month"
        else t.short_date(p["start"])
        for p in points
    ]
    series = [
        (t("questions"), [p["questions"] for p in points]),
        (t("active patrons"), [p["active"] for p in points]),
    ]
    title = t("Questions and active patrons") + f" ({step})"
    table = _table(
        title,
        [t("period"), t("active patrons"), t("questions"), t("answered"), t("cards viewed")],
        [
            [
                e_,
                number(t, p["active"]),
                number(t, p["questions"]),
                number(t, p["answered"]),
                number(t, p["card_views"]),
            ]
            for e_, p in zip((_e(x) for x in labels), points, strict=True)
        ],
    )
    return [
        _tag("h2", t("Use over the period")),
        _bar(t, labels, series, title),
        '<p class="meta">'
        + _e(
            t(
                "Active patrons: {day} per day, {week} per week, {month} per month on average; "
                "{total} over the period.",
                day=number(t, figures.active["day_avg"], 1),
                week=number(t, figures.active["week_avg"], 1),
                month=number(t, figures.active["month_avg"], 1),
                total=counted(t, "different_patron", figures.totals["active"]),
            )
        )
        + "</p>",
        table,
    ]


def _media_html(figures: Figures, t: Translator) -> list[str]:
    e = _e
    media = media_keys(figures)
    parts = [_tag("h2", t("By media type"))]
    if not media:
        return [*parts, _tag("p", t("No activity recorded."))]
    named = [k for k in media if k]
    if named:
        labels = [media_label(t, k) for k in named]
        parts.append(
            _bar(
                t,
                labels,
                [
                    (
                        t("questions"),
                        [figures.by_media.get(k, {}).get("questions", 0) for k in named],
                    ),
                    (
                        t("cards viewed"),
                        [figures.by_media.get(k, {}).get("card_views", 0) for k in named],
                    ),
                    (t("subscribers"), [figures.subscribers.get(f"media:{k}", 0) for k in named]),
                ],
                t("Use by media type"),
            )
        )
    head = [t("media type"), *(t(METRIC_LABELS[m]) for m in TABLE_METRICS), t("subscribers")]
    rows = [
        [
            e(media_label(t, k)),
            *(number(t, figures.by_media.get(k, {}).get(m, 0)) for m in TABLE_METRICS),
            number(t, figures.subscribers.get(f"media:{k}", 0)) if k else "—",
        ]
        for k in media
    ]
    parts.append(_table(t("Use by media type"), head, rows))
    others = [(k, v) for k, v in sorted(figures.subscribers.items()) if k in TOPIC_LABELS]
    if others:
        parts.append(
            '<p class="meta">'
            + e(
                ", ".join(
                    t(
                        "{topic}: {subscribers}",
                        topic=topic_label(t, k),
                        subscribers=counted(t, "subscriber", v),
                    )
                    for k, v in others
                )
            )
            + "</p>"
        )
    return parts


def _platform_html(figures: Figures, t: Translator) -> list[str]:
    e = _e
    parts = [_tag("h2", t("Consultation of the digital resources (providers' figures)"))]
    if not figures.platform:
        return [
            *parts,
            _tag(
                "p",
                t(
                    "No platform figures for this period: import the providers' COUNTER "
                    "reports with python -m bot import-usage."
                ),
            ),
        ]
    metrics = [m for m in PLATFORM_METRICS if any(p.metric == m for p in figures.platform)]
    months = sorted({p.month for p in figures.platform})
    month_labels = [formats.month_label(t.locale, m) for m in months]
    for media in [m for m in MEDIA_TYPES if any(p.media_type == m for p in figures.platform)]:
        rows = [p for p in figures.platform if p.media_type == media]
        shown = [m for m in metrics if any(p.metric == m for p in rows)][:3]
        series = [
            (
                t(PLATFORM_LABELS[metric]),
                [
                    sum(p.value for p in rows if p.month == month and p.metric == metric)
                    for month in months
                ],
            )
            for metric in shown
        ]
        title = t("{media}: consultation per month", media=media_label(t, media))
        parts += [_tag("h3", media_label(t, media)), _bar(t, month_labels, series, title)]
    by_resource = figures.platform_by_resource()
    names = {p.resource_id: (p.name, p.media_type) for p in figures.platform}
    by_media = figures.platform_by_media()
    parts.append(
        _table(
            t("Totals per media type over the period"),
            [t("media type"), *(t(PLATFORM_LABELS[m]) for m in metrics)],
            [
                [
                    e(media_label(t, media)),
                    *(
                        number(t, by_media[media][m]) if m in by_media[media] else "—"
                        for m in metrics
                    ),
                ]
                for media in MEDIA_TYPES
                if media in by_media
            ],
        )
    )
    top = sorted(
        by_resource.items(), key=lambda kv: (-kv[1].get("item_requests", 0), names[kv[0]])
    )
    by_resource = dict(sorted(top[:LIST_LIMIT], key=lambda kv: names[kv[0]]))
    parts.append(
        _table(
            t("Totals per resource over the period")
            if len(top) <= LIST_LIMIT
            else t("The {n} most consulted resources over the period", n=number(t, LIST_LIMIT)),
            [t("resource"), t("media type"), *(t(PLATFORM_LABELS[m]) for m in metrics)],
            [
                [
                    e(names[r][0]),
                    e(media_label(t, names[r][1])),
                    *(number(t, values.get(m)) if m in values else "—" for m in metrics),
                ]
                for r, values in sorted(by_resource.items(), key=lambda kv: names[kv[0]])
            ],
        )
    )
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
                "{held} ({cancelled}), {registered} for {seats}, {participants}; "
                "average rating {rating}.",
                held=counted(t, "workshop_held", summary["held"]),
                cancelled=counted(t, "cancelled", summary["cancelled"]),
                registered=counted(t, "registered_patron", summary["registered"]),
                seats=counted(t, "seat", summary["seats"]),
                participants=counted(t, "participant", summary["participants"]),
                rating=_stars(t, summary["average_rating"]),
            )
        )
        + "</p>"
    )
    head = [
        t("workshop"),
        t("library"),
        t("date"),
        t("registered"),
        t("participants"),
        t("rating"),
    ]

    def rows_of(status: str) -> list[list[str]]:
        return [
            [
                e(w.title),
                e(library_label(t, figures, w.library_id)),
                e(formats.long_date(t.locale, t.local(w.starts_at).date())),
                f"{number(t, w.registered)}\u00a0/\u00a0{number(t, w.capacity)}",
                number(t, w.participants) if status == "held" else "—",
                _stars(t, w.average_rating),
            ]
            for w in figures.workshops
            if w.status == status
        ]

    held = rows_of("held")
    if len(held) <= LIST_LIMIT:
        parts.append(_table(t("Workshops held"), head, held))
    else:  # a long list helps no one on paper: per library (the list is in /export)
        by_library: dict[str, list[WorkshopFigures]] = {}
        for w in figures.workshops:
            by_library.setdefault(w.library_id, []).append(w)
        rows = []
        for key, items in sorted(
            by_library.items(), key=lambda kv: library_label(t, figures, kv[0]).casefold()
        ):
            per = workshop_summary(items)
            rows.append(
                [
                    e(library_label(t, figures, key)),
                    number(t, per["held"]),
                    number(t, per["participants"]),
                    number(t, round(per["hours"])),
                    _stars(t, per["average_rating"]),
                ]
            )
        parts.append(
            _table(
                t("Workshops held per library (the list of sessions is in the /export files)"),
                [t("library"), t("sessions"), t("participants"), t("hours"), t("rating")],
                rows,
            )
        )
    upcoming = rows_of("upcoming")
    if upcoming:
        parts.append(_table(t("Upcoming workshops (not counted as held)"), head, upcoming))
    cancelled = rows_of("cancelled")
    if cancelled and len(cancelled) <= LIST_LIMIT:
        parts.append(_table(t("Cancelled workshops"), head, cancelled))
    return parts


def _rating_text(t: Translator, kind: str, rating: int) -> str:
    if kind == "vote":
        return "👍" if rating else "👎"
    if kind == "survey":
        return f"{rating}/10"
    return f"{rating} ★"


def _satisfaction_html(figures: Figures, t: Translator) -> list[str]:
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
                "{answered} of {sent} · average {average}/10 · NPS {nps}",
                answered=counted(t, "answer", survey["answered"]),
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
    parts.append(
        _table(
            t("Feedback received"),
            [t("feedback"), t("number"), t("with a comment"), t("result")],
            rows,
        )
    )
    ratings = list(range(1, 6))
    shown = [k for k in ("workshop", "free") if kinds.get(k, {}).get("rated")]
    if shown:
        labels = [f"{r} ★" for r in ratings]
        series = [
            (t(KIND_LABELS[k]), [kinds[k]["distribution"].get(r, 0) for r in ratings])
            for k in shown
        ]
        parts.append(_bar(t, labels, series, t("Ratings from 1 to 5")))
    return parts


def _survey_html(figures: Figures, t: Translator) -> list[str]:
    header, rows = survey_rows(figures, t)
    return [
        _tag("h2", t("National survey of public libraries")),
        _tag(
            "p",
            t(
                "The figures the annual survey asks for, per library and for the whole "
                "network, to copy as they are (python -m bot report --format survey gives "
                "them as CSV)."
            ),
        ),
        _table(
            t("Figures for the national survey"),
            header,
            [[_e(str(r[0])), *(number(t, v) for v in r[1:])] for r in rows],
        ),
    ]


METHODOLOGY: Final = (
    (
        N_("Active patron"),
        N_(
            "A registered patron who did at least one recorded thing with Plume in the period "
            "(a question, a card opened, a workshop registration, an announcement received). "
            "Staff, coordinators and administrators are never counted. By library: the "
            "patron's library when they used Plume. Per day, week or month: the average over "
            "the days, weeks or months of the period."
        ),
    ),
    (
        N_("Chat session"),
        N_("A day on which a patron used Plume (one per patron and day)."),
    ),
    (
        N_("Questions and answers"),
        N_(
            "Every question a patron typed; answered when Plume gave an answer. The "
            "unanswered questions listed are real patron questions only: greetings, thanks, "
            "dates, times and lone punctuation are left out, and similar wordings are grouped."
        ),
    ),
    (
        N_("Cards"),
        N_("A FAQ entry, resource or title a patron opened, named by its title."),
    ),
    (
        N_("Workshop held"),
        N_(
            "A workshop that started before the end of the period (and before the report was "
            "made) and was not cancelled; later ones are listed apart as upcoming. "
            "Participants: the patrons marked present, or the registered patrons when "
            "attendance was not taken. Registrations count patrons only."
        ),
    ),
    (
        N_("Announcements"),
        N_("Patrons reached: one per patron an announcement was delivered to."),
    ),
    (
        N_("Subscribers"),
        N_("Patrons subscribed to a kind of announcement on the day of the report."),
    ),
    (
        N_("Consultation of the digital resources"),
        N_(
            "The figures the providers report (COUNTER Release 5 reports, or their own "
            "monthly figures), for the months that start in the period; consultations are "
            "COUNTER's Total_Item_Requests. The providers report for the whole network, not "
            "per library."
        ),
    ),
    (
        N_("National survey"),
        N_(
            "Active users: as above (ISO 2789: registered users who used the service in the "
            "period). User training: workshops held, their participants and hours. "
            "Electronic services: questions answered, chat sessions, consultations of the "
            "resources. Cultural action: events announced to patrons and workshop "
            "registrations."
        ),
    ),
    (
        N_("Comparison"),
        N_(
            "With the period of the same length just before. Every figure comes from the "
            "events recorded at the time, which hold no personal data: erasing a patron's "
            "data does not change a past figure."
        ),
    ),
)


def _methodology_html(t: Translator) -> list[str]:
    items = "".join(f"<dt>{_e(t(term))}</dt><dd>{_e(t(text))}</dd>" for term, text in METHODOLOGY)
    return [_tag("h2", t("Methodology")), f"<dl>{items}</dl>"]


# PDF ----------------------------------------------------------------------------------


def render_pdf(figures: Figures, t: Translator, brand: Branding | None = None) -> bytes:
    """The HTML report printed (A4, page numbers, vector charts): see bot.reporting.pdf."""
    brand = brand or Branding()
    return html_to_pdf(render_html(figures, t, brand, for_print=True).decode(), brand.pdf_engine)


RENDERERS: Final[dict[str, Callable[[Figures, Translator, Branding], bytes]]] = {
    "html": render_html,
    "pdf": render_pdf,
    "csv": render_csv,
    "json": render_json,
    "survey": render_survey,
}


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


__all__ = ["NONE_KEY", "Report", "build_report", "csv_bytes", "render_html", "to_data"]


# Command line: python -m bot report ----------------------------------------------------


def add_report_arguments(parser: Any) -> None:
    parser.add_argument(
        "--from", dest="start", help="first day (YYYY-MM-DD); default: the last 12 full months"
    )
    parser.add_argument("--to", dest="end", help="last day, included (with --from)")
    parser.add_argument("--year", type=int, help="a calendar year instead (e.g. 2025)")
    parser.add_argument("--library", help="only this library (its id)")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="html",
        help="html, pdf, csv, json, or survey (the national survey's CSV); default: html",
    )
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="default: fr")
    parser.add_argument(
        "--output", "-o", help="file to write (default: plume-report-….<format> here; - = stdout)"
    )
    parser.add_argument(
        "--rebuild-rollups",
        action="store_true",
        help="accepted for older scripts: there are no roll-ups, figures come from the events",
    )


def period_from_args(args: Any, tz: Any) -> Period:
    """--from/--to, --year, or the last 12 full months; PeriodError on bad words."""
    from bot.stats.period import PeriodError, parse_date

    if args.year is not None:
        if args.start or args.end:
            raise PeriodError("give --year or --from/--to, not both")
        if not 1900 <= args.year <= 9999:
            raise PeriodError(f"{args.year} is not a year")
        return year_period(args.year, tz)
    if args.start or args.end:
        if not (args.start and args.end):
            raise PeriodError("give both --from and --to")
        return Period.between(parse_date(args.start), parse_date(args.end), tz)
    return default_period(tz)


async def report_main(args: Any, engine: Any, tz: Any, branding: Branding | None = None) -> int:
    """``python -m bot report``: writes the report; 2 on bad dates, 1 on an unknown library."""
    import sys

    from sqlalchemy import select

    from bot.stats.period import PeriodError
    from storage.models import Library

    try:
        period = period_from_args(args, tz)
    except PeriodError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    if args.library:
        async with engine.connect() as conn:
            if await conn.scalar(select(Library.id).where(Library.id == args.library)) is None:
                print(f"report: unknown library {args.library!r}", file=sys.stderr)
                return 1
    report = await build_report(
        StatsService(engine, tz),
        period,
        library_id=args.library,
        fmt=args.fmt,
        language=args.lang,
        branding=branding,
    )
    if args.output == "-":
        sys.stdout.buffer.write(report.content)
        return 0
    path = Path(args.output or report.filename)
    await asyncio.to_thread(path.write_bytes, report.content)
    print(f"report written to {path} ({len(report.content):,} bytes)")
    return 0
