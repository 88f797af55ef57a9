"""The report as one self-contained HTML document: inline CSS, vector charts as inline
SVG, a table for each chart, no script."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Final

from bot.i18n import N_, Translator
from bot.reporting import formats
from bot.reporting.charts import _bar, _e
from bot.reporting.data import (
    KEY_LABELS,
    KIND_LABELS,
    LIST_LIMIT,
    METRIC_LABELS,
    PLATFORM_LABELS,
    PLATFORM_METRICS,
    TABLE_METRICS,
    TOPIC_LABELS,
    Branding,
    _rating_text,
    comparison,
    counted,
    library_label,
    media_label,
    number,
    percent,
    summary_text,
    survey_rows,
    topic_label,
)
from bot.stats.rollups import media_keys, workshop_summary
from bot.stats.shaping import Figures, WorkshopFigures
from storage.models import MEDIA_TYPES

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


def _tag(name: str, text: str) -> str:
    return f"<{name}>{_e(text)}</{name}>"


#: the most columns of one table: more do not fit across an A4 page (182 mm between the
#: margins), so a wider table is cut into several, each with the rows' names first
MAX_COLUMNS: Final = 6


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    """A data table: a caption, column headers with scope, the first cell of each row a
    row header; each cell carries its column's name for the phone layout. Wider than
    :data:`MAX_COLUMNS`, it is printed as several tables ("(1/2)", "(2/2)")."""
    if not rows:
        return ""
    if len(head) > MAX_COLUMNS:
        per = MAX_COLUMNS - 1
        starts = range(1, len(head), per)
        return "".join(
            _table(
                f"{caption} ({index}/{len(starts)})",
                [head[0], *head[start : start + per]],
                [[row[0], *row[start : start + per]] for row in rows],
            )
            for index, start in enumerate(starts, 1)
        )
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


def _stars(t: Translator, value: float | None) -> str:
    return "—" if value is None else f"{number(t, value, 1)}\u00a0/\u00a05"


def _value(t: Translator, value: float | None, rate: bool) -> str:
    if value is None:
        return "—"
    return percent(t, value) if rate else number(t, value)


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
                # words, not 👍/👎: the PDF's fonts have no emoji (empty boxes in print)
                "useful: {up} · not useful: {down}",
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
    parts = [
        _tag("h2", t("National survey of public libraries")),
        _tag(
            "p",
            t(
                "The figures the annual survey asks for, per library and for the whole "
                "network, to copy as they are (python -m bot report --format survey gives "
                "them as CSV)."
            ),
        ),
    ]
    # one column per place, the whole network first, its nine figures as rows (as columns,
    # ten of them, they ran off an A4 page); _table cuts it, a few places to a table
    places = rows[-1:] + rows[:-1]
    parts.append(
        _table(
            t("Figures for the national survey"),
            [t("figure"), *(str(place[0]) for place in places)],
            [
                [_e(label), *(number(t, place[column]) for place in places)]
                for column, label in enumerate(header[1:], 1)
            ],
        )
    )
    return parts


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
