"""The report's data: what it shows and calls each figure (labels, phrases, derived key
figures, the comparison with the previous period), and :func:`to_data`, which every
format reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bot.i18n import N_, Np_, Translator, translator
from bot.reporting import formats
from bot.shared.labels import MEDIA_IN_TEXT
from bot.stats.period import Period
from bot.stats.queries import FEEDBACK_EXPORT_FIELDS, USAGE_EXPORT_FIELDS
from bot.stats.rollups import SURVEY_FIELDS, answer_rate
from bot.stats.shaping import Figures

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


# The figures shown first, with the previous period --------------------------------------


def key_figures(figures: Figures) -> list[tuple[str, float | None, bool]]:
    """(name, value, is a rate) of the key figures, the same in every format."""
    totals = figures.totals
    summary = figures.workshop_summary
    return [
        ("active_patrons", totals["active"], False),
        ("chat_sessions", totals["visits"], False),
        ("questions", totals["questions"], False),
        ("answer_rate", answer_rate(figures), True),
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
    previous = {n: v for n, v, _ in key_figures(figures.previous)} if figures.previous else {}
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


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return value


def survey_rows(figures: Figures, t: Translator) -> tuple[list[str], list[list[Any]]]:
    """The national survey's table: one row per library, then the network's total."""
    header = [t("library"), *(t(SURVEY_LABELS[f]) for f in SURVEY_FIELDS)]
    rows = []
    for key, values in sorted(figures.survey().items(), key=_total_last):
        name = t("Whole network") if key == "" else library_label(t, figures, key)
        rows.append([name, *(values[f] for f in SURVEY_FIELDS)])
    return header, rows


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


def _rating_text(t: Translator, kind: str, rating: int) -> str:
    if kind == "vote":  # words: the PDF's fonts have no emoji
        return t("useful") if rating else t("not useful")
    if kind == "survey":
        return f"{rating}/10"
    return f"{rating} ★"
