"""Coordinators' views: /stats, /avis_recus, /sans_reponse, /export and /rapport.

All of them require the coordinator role (administrators included); patrons get the polite
refusal of ``requires`` and no data. Periods: ``semaine``/``week``, ``mois``/``month``,
``trimestre``/``quarter``, ``année``/``year`` (that many days up to today), or two dates.
"""

from __future__ import annotations

import asyncio
import io

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext, PlumeHandler
from bot.feedback.service import FeedbackEntry
from bot.i18n import N_, Translator
from bot.privacy.service import pseudonym
from bot.reporting.as_csv import csv_bytes
from bot.reporting.charts import stats_chart
from bot.reporting.data import (
    EXPORT_FIELDS,
    KIND_LABELS,
    Branding,
    counted,
    default_period,
    library_label,
    media_label,
    number,
    percent,
    survey_rows,
    to_data,
    topic_label,
    workshop_rows,
)
from bot.reporting.report import FORMATS, build_report
from bot.shared.callbacks import RECEIVED, STATS
from bot.stats.period import Period, PeriodError, PeriodOrderError
from bot.stats.rollups import answer_rate, average_rating, media_keys
from bot.stats.shaping import Figures
from handlers import teach
from handlers.privacy import write_button
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires
from handlers.shared.menus import names
from handlers.shared.pager import pager_row
from handlers.shared.pickers import library_named
from storage.models import MEDIA_TYPES

PERIOD_CODES = {"w": "week", "m": "month", "q": "quarter", "y": "year"}
MEDIA_CODES = {m[0]: m for m in MEDIA_TYPES if m != "game"} | {"j": "game"}
MEDIA_LETTERS = {m: c for c, m in MEDIA_CODES.items()}
TYPING_PERIOD = 1
PERIOD_TIMEOUT = 15 * 60


def _period_help(t: Translator) -> str:
    return t(
        "Give a period: semaine, mois, trimestre, année, a month (novembre 2026), or two "
        "dates (du 1er au 30 novembre, 2025-01-01 2025-03-31), and if you like a library "
        "by its name or id."
    )


async def _parse(
    update: Update, context: PlumeContext, default: str = "month", extra: tuple[str, ...] = ()
) -> tuple[Period, str | None, list[str]] | None:
    """The period and library of a command's words (and ``extra`` words allowed); None, and
    a message saying what is expected, when a word is none of these."""
    t = context.t
    try:
        period, rest = Period.parse(list(context.args or []), context.services.stats.tz, default)
    except PeriodOrderError:
        await reply(update, t("This period ends before it starts."))
        return None
    except PeriodError:
        await reply(update, _period_help(t))
        return None
    others = [w.lower() for w in rest if w.lower() in extra]
    named = [w for w in rest if w.lower() not in extra]
    library_id = await library_named(context, named) if named else None
    if named and library_id is None:
        await reply(update, _period_help(t))
        return None
    return period, library_id, others


def _period_line(t: Translator, figures: Figures) -> str:
    period = figures.period
    scope = library_label(t, figures, figures.library_id) if figures.library_id else t("network")
    return t(
        "<b>Statistics from {start} to {end}</b> · {scope}",
        start=t.short_date(period.start),
        end=t.short_date(period.end),
        scope=escape(scope),
    )


def _average(t: Translator, value: float) -> str:
    """``0,3``; a small average that would round to ``0,0`` (someone came, not every day)
    reads ``moins de 0,1``, not nobody."""
    if 0 < value < 0.05:
        return t("under {n}", n=number(t, 0.1, 1))
    return number(t, value, 1)


def stats_text(t: Translator, figures: Figures) -> str:
    totals = figures.totals
    feedback = figures.feedback
    answered = answer_rate(figures)
    average = average_rating(figures)
    lines = [
        _period_line(t, figures),
        "",
        t(
            "👥 Active patrons: {n} ({day} per day on average)",
            n=number(t, totals["active"]),
            day=_average(t, figures.active["day_avg"]),
        ),
        t(
            "❓ Questions: {n}, answered: {rate}",
            n=number(t, totals["questions"]),
            rate=percent(t, answered),
        ),
        t("🗂 Cards viewed: {n}", n=number(t, totals["card_views"])),
        t(
            "🎓 Workshop registrations: {n}, attendance: {present}",
            n=number(t, totals["registrations"]),
            present=number(t, totals["attendance"]),
        ),
        t(
            "📣 Announcements sent: {sent}, patrons reached: {reached}",
            sent=number(t, totals["broadcasts_sent"]),
            reached=number(t, totals["broadcasts_reached"]),
        ),
        t(
            "⭐ Average rating: {average} · answers found useful: {useful}",
            average="—" if average is None else f"{number(t, average, 1)}/5",
            useful=percent(t, feedback["votes"]["share_up"]),
        ),
    ]
    media = [m for m in media_keys(figures) if m]
    if media:
        lines += ["", t("<b>By media type</b> (questions · cards · subscribers)")]
        for key in media:
            values = figures.by_media.get(key, {})
            counts = " · ".join(
                number(t, n)
                for n in (
                    values.get("questions", 0),
                    values.get("card_views", 0),
                    figures.subscribers.get(f"media:{key}", 0),
                )
            )
            lines.append(t("• {name}: {counts}", name=escape(media_label(t, key)), counts=counts))
    others = [(k, v) for k, v in sorted(figures.subscribers.items()) if not k.startswith("media:")]
    if others:
        lines.append(
            t(
                "🔔 Subscribers: {list}",
                list=", ".join(f"{escape(topic_label(t, k))} {number(t, v)}" for k, v in others),
            )
        )
    if not figures.library_id:
        top = sorted(
            ((k, v) for k, v in figures.by_library.items() if k),
            key=lambda kv: -kv[1].get("active", 0),
        )[:5]
        if top:
            lines += ["", t("<b>Most active libraries</b> (active patrons · questions)")]
            lines += [
                t(
                    "• {name}: {counts}",
                    name=escape(library_label(t, figures, k)),
                    counts=f"{number(t, v.get('active', 0))} · {number(t, v.get('questions', 0))}",
                )
                for k, v in top
            ]
    return "\n".join(lines)


def _period_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                button(t("Week"), f"{STATS}w"),
                button(t("Month"), f"{STATS}m"),
                button(t("Quarter"), f"{STATS}q"),
                button(t("Year"), f"{STATS}y"),
            ],
            [button(t("Other dates…"), f"{STATS}c")],
        ]
    )


async def _send_stats(
    update: Update, context: PlumeContext, period: Period, library_id: str | None
) -> None:
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_PHOTO)
    figures = await context.services.stats.headline(period, library_id)
    png = await asyncio.to_thread(stats_chart, figures, t)
    await chat.send_photo(
        InputFile(io.BytesIO(png), filename="plume-stats.png"),
        caption=t("Questions and active patrons over the period"),
    )
    await reply(update, stats_text(t, figures), _period_keyboard(t))


@requires("coordinator")
async def stats(update: Update, context: PlumeContext) -> None:
    parsed = await _parse(update, context)
    if parsed:
        period, library_id, _ = parsed
        await _send_stats(update, context, period, library_id)


@requires("coordinator")
async def stats_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    t = context.t
    code = (query.data or "").removeprefix(STATS)
    if code not in PERIOD_CODES:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    period = Period.named(PERIOD_CODES[code], context.services.stats.tz)
    await _send_stats(update, context, period, None)


@requires("coordinator")
async def ask_period(update: Update, context: PlumeContext) -> int:
    """ "Other dates…": the next message is the period, in the time grammar's words."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await reply(
        update,
        context.t(
            "Which period? For instance <code>du 1er au 30 novembre</code>, "
            "<code>novembre 2026</code> or <code>2026-01-01 2026-03-31</code>; add a "
            "library's name or id to see only that library (/annuler to stop)."
        ),
    )
    return TYPING_PERIOD


async def period_typed(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    person = context.person
    assert message and message.text
    if person is None or not person.has_role("coordinator"):
        return ConversationHandler.END
    words = message.text.split()
    context.args = words
    parsed = await _parse(update, context)
    if parsed is None:
        return TYPING_PERIOD
    period, library_id, _ = parsed
    await _send_stats(update, context, period, library_id)
    return ConversationHandler.END


async def period_cancelled(update: Update, context: PlumeContext) -> int:
    await reply(update, context.t("Cancelled."))
    return ConversationHandler.END


# /avis_recus ---------------------------------------------------------------------------


def _stars(entry: FeedbackEntry) -> str:
    if entry.rating is None:
        return ""
    if entry.kind == "vote":
        return "👍" if entry.rating else "👎"
    if entry.kind == "survey":
        return f"{entry.rating}/10"
    return "★" * entry.rating


def _entry_text(t: Translator, entry: FeedbackEntry, libraries: dict[str, str]) -> str:
    details = [t(KIND_LABELS.get(entry.kind, entry.kind)), t.short_date(entry.created_at)]
    if entry.media_type:
        details.append(media_label(t, entry.media_type))
    if entry.library_id:
        details.append(libraries.get(entry.library_id, entry.library_id))
    text = f"{_stars(entry)} <i>{escape(entry.comment)}</i>".strip()
    text += "\n<code>" + escape(" · ".join(details)) + "</code>"
    if entry.contact is not None:  # by pseudonym; written to through Plume (a button)
        text += "\n" + t("✉ Agreed to be contacted: {link}", link=escape(entry.contact))
    return text


async def _received_page(
    update: Update,
    context: PlumeContext,
    page: int,
    rating: int | None,
    media: str | None,
    library_id: str | None,
    edit: bool,
) -> None:
    t = context.t
    services = context.services
    listing = await services.feedback.comments(
        page=page, rating=rating, media_type=media, library_id=library_id
    )
    libraries = {lib.id: lib.name for lib in await services.libraries.all()}
    ids = sorted(libraries)
    filters_text = [
        text
        for text in (
            t("rating {n}", n=rating) if rating is not None else "",
            media_label(t, media) if media else "",
            libraries.get(library_id or "", "") if library_id else "",
        )
        if text
    ]
    head = t("<b>Latest comments</b> ({n})", n=listing.total)
    if filters_text:
        head += " · " + escape(", ".join(filters_text))
    if listing.entries:
        body = "\n\n".join(_entry_text(t, e, libraries) for e in listing.entries)
        body += "\n\n" + t("Page {page} of {pages}", page=listing.page + 1, pages=listing.pages)
    else:
        body = t("No comment matches.")
    r = "-" if rating is None else str(rating)
    m = MEDIA_LETTERS.get(media or "", "-")
    lib = str(ids.index(library_id)) if library_id in ids else "-"

    def data(p: int, rr: str = r, mm: str = m) -> str:
        return f"{RECEIVED}{p}:{rr}:{mm}:{lib}"

    nav = pager_row(t, listing.page, listing.pages, data)
    ratings = [
        button(("• " if rating == n else "") + "★" * n, data(0, str(n))) for n in range(1, 6)
    ]
    ratings.append(button(t("All"), data(0, "-")))
    contacts = [e for e in listing.entries if e.contact is not None]
    writes = [[write_button(t, e.id, e.contact or "")] for e in contacts]
    markup = keyboard([*writes, nav, ratings[:3], ratings[3:]])
    if contacts and context.person is not None:  # staff read remarks of identifiable people
        await services.privacy.audit(
            "remark with contact shown",
            actor=pseudonym(context.person.id),
            actor_id=context.person.id,
            subjects=sorted({e.contact or "" for e in contacts}),
            detail=", ".join(f"remark {e.id}" for e in contacts)[:200],
        )
    text = head + "\n\n" + body
    query = update.callback_query
    if edit and query and query.message:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await reply(update, text, markup)


@requires("coordinator")
async def received(update: Update, context: PlumeContext) -> None:
    """/avis_recus [1-5] [media type] [library: its name or id]"""
    rating = media = library_id = None
    named = []
    for word in context.args or []:
        if word.isdigit() and 0 <= int(word) <= 5:
            rating = int(word)
        elif word.lower() in MEDIA_TYPES:
            media = word.lower()
        else:
            named.append(word)
    if named:
        library_id = await library_named(context, named)
        if library_id is None:
            await reply(
                update,
                context.t(
                    "Usage: /avis_recus [rating 1-5] [media type: {media}] [library: its "
                    "name or id]",
                    media=", ".join(MEDIA_TYPES),
                ),
            )
            return
    await _received_page(update, context, 0, rating, media, library_id, edit=False)


@requires("coordinator")
async def received_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").removeprefix(RECEIVED).split(":")
    invalid = context.t("This button is no longer valid.")
    if len(parts) != 4 or not parts[0].isdigit():
        await query.answer(invalid, show_alert=True)
        return
    page, r, m, lib = parts
    rating = int(r) if r.isdigit() and int(r) <= 5 else None
    media = MEDIA_CODES.get(m)
    ids = sorted(lib.id for lib in await context.services.libraries.all())
    library_id = ids[int(lib)] if lib.isdigit() and int(lib) < len(ids) else None
    if (r != "-" and rating is None) or (m != "-" and media is None):
        await query.answer(invalid, show_alert=True)
        return
    await query.answer()
    await _received_page(update, context, int(page), rating, media, library_id, edit=True)


# /sans_reponse -------------------------------------------------------------------------


@requires("coordinator")
async def unanswered(update: Update, context: PlumeContext) -> None:
    parsed = await _parse(update, context, default="quarter")
    if not parsed:
        return
    period, library_id, _ = parsed
    t = context.t
    groups = await context.services.stats.unanswered(period, library_id)
    head = t(
        "<b>Questions without an answer</b> from {start} to {end}",
        start=t.short_date(period.start),
        end=t.short_date(period.end),
    )
    if not groups:
        await reply(update, head + "\n\n" + t("Every question received an answer. 🎉"))
        return
    lines = [head, t("Grouped by similarity, most frequent first:"), ""]
    shown = groups[:15]
    for rank, group in enumerate(shown, start=1):
        times = counted(t, "time", group.count)
        line = f"{rank}. <b>{escape(group.text)}</b> — {times}"
        if group.variants:
            line += "\n  <i>" + escape(" · ".join(group.variants[:3])) + "</i>"
        lines.append(line)
    lines += ["", t("Press a number to teach Plume that question (it goes into the FAQ).")]
    teach.remember_listing(context, [group.text for group in shown])
    await reply(update, "\n".join(lines), teach.listing_keyboard(len(shown)))


# /export and /rapport ------------------------------------------------------------------


@requires("coordinator")
async def export(update: Update, context: PlumeContext) -> None:
    parsed = await _parse(update, context, default="year")
    if not parsed:
        return
    period, library_id, _ = parsed
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    stats_service = context.services.stats
    report = await build_report(
        stats_service, period, library_id=library_id, fmt="json", language=t.locale
    )
    figures = report.figures
    suffix = f"{period.start.isoformat()}-{period.end.isoformat()}"
    data = to_data(figures, t)
    files = (
        ("feedback", await stats_service.feedback_rows(period, library_id)),
        ("usage", await stats_service.usage_rows(period, library_id)),
        ("workshops", workshop_rows(figures)),
        ("platform_usage", data["platform_usage"]),
    )
    for name, rows in files:
        await chat.send_document(
            InputFile(
                io.BytesIO(csv_bytes(rows, EXPORT_FIELDS[name])),
                filename=f"plume-{name}-{suffix}.csv",
            ),
            caption=counted(t, "row", len(rows), name=t(EXPORT_NAMES[name])),
        )
    header, rows = survey_rows(figures, t)
    await chat.send_document(
        InputFile(io.BytesIO(csv_bytes(rows, header)), filename=f"plume-survey-{suffix}.csv"),
        caption=t("National survey: the figures per library and for the whole network"),
    )


EXPORT_NAMES = {
    "feedback": N_("Feedback"),
    "usage": N_("Use per day"),
    "workshops": N_("Workshops"),
    "platform_usage": N_("Consultation of the digital resources"),
}


@requires("coordinator")
async def rapport(update: Update, context: PlumeContext) -> None:
    parsed = await _parse(update, context, default="year", extra=("fr", "en", *FORMATS))
    if not parsed:
        return
    period, library_id, others = parsed
    if not context.args:
        period = default_period(context.services.stats.tz)
    language = context.t.locale
    fmt = "pdf"
    for word in others:
        if word.lower() in ("en", "fr"):
            language = word.lower()
        elif word.lower() in FORMATS:
            fmt = word.lower()
    t = context.t
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    settings = context.services.settings
    report = await build_report(
        context.services.stats,
        period,
        library_id=library_id,
        fmt=fmt,
        language=language,
        branding=Branding(settings.network_name, settings.report_logo, settings.pdf_engine),
    )
    await chat.send_document(
        InputFile(io.BytesIO(report.content), filename=report.filename),
        caption=t(
            "Evaluation report from {start} to {end}.",
            start=t.short_date(period.start),
            end=t.short_date(period.end),
        ),
    )


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("stats"), stats),
        conversation(
            role="coordinator",
            left_behind=N_("The period you were asked for is no longer awaited."),
            entry_points=[CallbackQueryHandler(ask_period, pattern=f"^{STATS}c$")],
            states={
                TYPING_PERIOD: [MessageHandler(filters.TEXT & ~filters.COMMAND, period_typed)]
            },
            fallbacks=[CommandHandler(names("cancel"), period_cancelled)],
            conversation_timeout=PERIOD_TIMEOUT,
            allow_reentry=True,
            name="stats_period",
        ),
        CallbackQueryHandler(stats_button, pattern=f"^{STATS}"),
        CommandHandler(names("feedback_received"), received),
        CallbackQueryHandler(received_button, pattern=f"^{RECEIVED}"),
        CommandHandler(names("unanswered"), unanswered),
        CommandHandler(names("export"), export),
        CommandHandler(names("report"), rapport),
    ]
