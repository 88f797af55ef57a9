"""Staff announcements: /annonce (compose, audience, preview, send or schedule), /annonces,
the new-title drafts of imports, and the jobs that start and resume broadcasts.

Callback data: ``Aa:`` audience choice (in the conversation), ``An:<action>:<id>`` the
card under a preview (go: send now, pd: send now as a paid broadcast — administrators —,
at: schedule, ed: edit the text, au: change the audience, no: discard, x: cancel a
scheduled or running announcement).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import logging
import re
from typing import Final

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.announcements.service import (
    CAPTION_LIMIT,
    DONE,
    DRAFT,
    FAILED,
    NEW_ITEMS,
    SCHEDULED,
    SENDING,
    SENT,
    UNREACHABLE,
    AnnouncementView,
    recipient_payload,
)
from bot.context import PlumeApplication, PlumeContext, PlumeHandler
from bot.i18n import N_, Translator, translator
from bot.outbox import enqueue
from bot.reporting.formats import number
from bot.services import Services
from bot.shared.callbacks import ANNOUNCEMENT_CARD as CARD
from bot.shared.callbacks import AUDIENCE_PICK as AUDIENCE_PICK
from bot.shared.when import WhenError, describe, parse_moment
from bot.subscriptions.service import TOPIC_NAMES, media_topic
from bot.users import Person
from handlers.announcements.progress import (
    send_announcement,
    stop_keyboard,
    stop_markup,
)
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires, show
from handlers.shared.menus import names
from handlers.shared.pickers import library_picker
from storage.models import MEDIA_TYPES, utcnow

log = logging.getLogger(__name__)

COMPOSE, AUDIENCE, PREVIEW, WHEN, EDIT = range(5)
CURRENT: Final = "announcement"  # user_data: the announcement being prepared
#: how often the bot looks for new drafts, due or orphaned broadcasts (other processes)
TICK_SECONDS: float = 30.0
CONVERSATION_TIMEOUT: Final = 60 * 60
END = ConversationHandler.END


def _content(message: Message | None) -> tuple[str, str | None, str | None] | None:
    """(HTML text, attachment kind, file id) of a staff message; None if unusable.

    ``text_html`` / ``caption_html`` rebuild well-formed HTML from the entities Telegram
    gave: "<b>50% off < today" typed as text arrives intact, formatting is kept."""
    if message is None:
        return None
    if message.photo:
        return message.caption_html or "", "photo", message.photo[-1].file_id
    if message.document:
        return message.caption_html or "", "document", message.document.file_id
    if message.text:
        return message.text_html, None, None
    return None


def _announcement_id(context: PlumeContext) -> int | None:
    value = context.user_data.get(CURRENT) if context.user_data is not None else None
    return value if isinstance(value, int) else None


def _remember(context: PlumeContext, announcement_id: int | None) -> None:
    if context.user_data is None:
        return
    if announcement_id is None:
        context.user_data.pop(CURRENT, None)
    else:
        context.user_data[CURRENT] = announcement_id


# -- audience ----------------------------------------------------------------------------


async def audience_label(services: Services, audience: str, t: Translator) -> str:
    service = services.announcements
    if audience == "all":
        return t("all subscribers of the general news")
    if audience.startswith("media:"):
        return t("subscribers of “{topic}”", topic=t(TOPIC_NAMES.get(audience, audience)))
    if audience.startswith("library:"):
        name = await service.library_name(audience.removeprefix("library:"))
        return t("patrons of {library} (events)", library=escape(name or "?"))
    if audience.startswith("workshop:"):
        title = await service.workshop_title(audience.removeprefix("workshop:"))
        return t("people registered for “{workshop}”", workshop=escape(title or "?"))
    return escape(audience)


async def audience_keyboard(context: PlumeContext) -> InlineKeyboardMarkup:
    t = context.t
    topics = [media_topic(media_type) for media_type in MEDIA_TYPES]
    counts = await context.services.announcements.count_many(["all", *topics])  # one query
    rows = [
        [
            button(
                t("📣 All news subscribers ({n})", n=counts["all"]),
                f"{AUDIENCE_PICK}all",
            )
        ]
    ]
    for media_type in MEDIA_TYPES:
        topic = media_topic(media_type)
        count = counts[topic]
        rows.append(
            [button(f"{t(TOPIC_NAMES[topic])} ({count})", f"{AUDIENCE_PICK}m:{media_type}")]
        )
    rows.append([button(t("🏛 Patrons of a library…"), f"{AUDIENCE_PICK}libs:0")])
    rows.append([button(t("🗓 People registered for a workshop…"), f"{AUDIENCE_PICK}ws")])
    return keyboard(rows)


async def ask_audience(update: Update, context: PlumeContext) -> int:
    await reply(update, context.t("Who should receive it?"), await audience_keyboard(context))
    return AUDIENCE


async def _library_choice(update: Update, context: PlumeContext, page: int) -> int:
    t = context.t
    rows = await library_picker(
        context,
        page,
        lambda id_: f"{AUDIENCE_PICK}lib:{id_}",
        lambda p: f"{AUDIENCE_PICK}libs:{p}",
    )
    back = [button(t("↩ Back"), f"{AUDIENCE_PICK}back")]
    await show(
        update,
        t("The patrons of which library? (those who asked for its events)"),
        keyboard([*rows, back]),
    )
    return AUDIENCE


async def _workshop_choice(update: Update, context: PlumeContext) -> int:
    t = context.t
    workshops = await context.services.announcements.upcoming_workshops(utcnow())
    rows = [
        [button(f"{t.short_datetime(starts)} · {title}"[:60], f"{AUDIENCE_PICK}w:{ws_id}")]
        for ws_id, title, starts in workshops
    ]
    rows.append([button(t("↩ Back"), f"{AUDIENCE_PICK}back")])
    text = (
        t("The people registered for which workshop?")
        if workshops
        else t("There is no workshop to come.")
    )
    await show(update, text, keyboard(rows))
    return AUDIENCE


@requires("staff")
async def audience_pick(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    t = context.t
    announcement_id = _announcement_id(context)
    choice = query.data.removeprefix(AUDIENCE_PICK)
    if announcement_id is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return END
    audience: str | None = None
    if choice == "all":
        audience = "all"
    elif choice.startswith("m:") and choice[2:] in MEDIA_TYPES:
        audience = media_topic(choice[2:])
    elif choice.startswith("libs:") and choice[5:].isdigit():
        await query.answer()
        return await _library_choice(update, context, int(choice[5:]))
    elif choice.startswith("lib:"):
        if await context.services.libraries.get(choice[4:]) is not None:
            audience = f"library:{choice[4:]}"
    elif choice == "ws":
        await query.answer()
        return await _workshop_choice(update, context)
    elif choice.startswith("w:"):
        if await context.services.announcements.workshop_title(choice[2:]) is not None:
            audience = f"workshop:{choice[2:]}"
    elif choice == "back":
        await query.answer()
        await show(update, t("Who should receive it?"), await audience_keyboard(context))
        return AUDIENCE
    if audience is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return AUDIENCE
    view = await context.services.announcements.set_audience(announcement_id, audience)
    if view is None:
        await query.answer(t("This announcement was already sent or cancelled."), show_alert=True)
        return END
    await query.answer()
    label = await audience_label(context.services, audience, t)
    await show(update, t("Audience: {audience}", audience=label))
    return await preview(update, context, view)


# -- preview and the card ----------------------------------------------------------------


def card_keyboard(t: Translator, person: Person, announcement_id: int) -> InlineKeyboardMarkup:
    def action(name: str) -> str:
        return f"{CARD}{name}:{announcement_id}"

    rows = [[button(t("📤 Send now"), action("go"))]]
    if person.has_role("admin"):
        rows.append([button(t("⚡ Send now as a paid broadcast (fast)"), action("pd"))])
    rows += [
        [button(t("🕒 Schedule"), action("at")), button(t("✏️ Edit the text"), action("ed"))],
        [button(t("🎯 Change the audience"), action("au")), button(t("🗑 Discard"), action("no"))],
    ]
    return keyboard(rows)


async def card_text(
    services: Services, view: AnnouncementView, t: Translator, count: int | None = None
) -> str:
    if count is None:
        count = await services.announcements.count(view.audience)
    lines = [
        t("👆 Preview: this is exactly what recipients will see."),
        t("Audience: {audience}", audience=await audience_label(services, view.audience, t)),
        t.tn("{n} recipient", "{n} recipients", count, n=count),
    ]
    return "\n".join(lines)


async def preview(update: Update, context: PlumeContext, view: AnnouncementView) -> int:
    """Shows the announcement as recipients will get it, then what to do with it."""
    t = context.t
    person = context.person
    chat = update.effective_chat
    assert person is not None and chat is not None
    try:
        await send_announcement(context.bot, chat.id, view, stop_keyboard(t, view.topic))
    except BadRequest as error:
        await reply(
            update,
            t(
                "Telegram refused this message ({error}). Send me another version.",
                error=escape(error.message),
            ),
        )
        _remember(context, view.id)
        return EDIT
    text = await card_text(context.services, view, t)
    await reply(update, text, card_keyboard(t, person, view.id))
    _remember(context, view.id)
    return PREVIEW


def _parse_card(data: str) -> tuple[str, int] | None:
    action, _, raw = data.removeprefix(CARD).partition(":")
    if not raw.isdigit() or len(raw) > 12:
        return None
    return action, int(raw)


@requires("staff")
async def card_action(update: Update, context: PlumeContext) -> int | None:
    """Send now, send paid, discard, cancel: also works outside the conversation."""
    query = update.callback_query
    person = context.person
    chat = update.effective_chat
    assert query and query.data and person and chat
    t = context.t
    service = context.services.announcements
    parsed = _parse_card(query.data)
    if parsed is None or parsed[0] not in ("go", "pd", "no", "x", "rf", "op"):
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return None
    action, announcement_id = parsed
    if action == "op":  # a draft listed by /annonces: its preview and card again
        view = await service.get(announcement_id)
        if view is None or view.state != DRAFT:
            await query.answer(
                t("This announcement was already sent or cancelled."), show_alert=True
            )
            return None
        await query.answer()
        await send_announcement(context.bot, chat.id, view, stop_keyboard(t, view.topic))
        await reply(
            update, await card_text(context.services, view, t), card_keyboard(t, person, view.id)
        )
        return None
    if action in ("go", "pd"):
        if action == "pd" and not person.has_role("admin"):
            await query.answer(t("Only administrators can send paid broadcasts."), show_alert=True)
            return None
        view = await service.get(announcement_id)
        if view is None or view.state != DRAFT:
            await query.answer(
                t("This announcement was already sent or cancelled."), show_alert=True
            )
            return END
        if await service.count(view.audience) == 0:
            await query.answer(t("Nobody is in this audience yet."), show_alert=True)
            return None
        started = await service.start_sending(
            announcement_id,
            stop_markup(context.services.settings.default_locale),
            paid=action == "pd",
            status_chat_id=chat.id,
            from_states=(DRAFT,),
        )
        if started is None:
            await query.answer(
                t("This announcement was already sent or cancelled."), show_alert=True
            )
            return END
        await query.answer(t("Sending…"))
        if query.message is not None:  # the card becomes the status message
            await service.set_status_message(announcement_id, chat.id, query.message.message_id)
        await show(update, t("📣 <b>Announcement #{id}</b>: sending…", id=announcement_id))
        context.broadcasts.start(announcement_id)
        _remember(context, None)
        return END
    if action == "no":
        view = await service.discard(announcement_id)
        if view is None:
            await query.answer(
                t("This announcement was already sent or cancelled."), show_alert=True
            )
            return END
        await query.answer()
        await show(update, t("🗑 Announcement #{id} discarded.", id=announcement_id))
        _remember(context, None)
        return END
    if action == "rf":
        resent = await service.resend_failed(announcement_id)
        if not resent:
            await query.answer(t("Nothing left to resend."), show_alert=True)
            return None
        await query.answer(
            t.tn("Resending to {n} recipient.", "Resending to {n} recipients.", resent, n=resent)
        )
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        context.broadcasts.start(announcement_id)
        return None
    # "x": cancel a scheduled or running announcement
    view = await context.broadcasts.cancel(announcement_id)
    if view is None:
        await query.answer(t("This announcement is already over."), show_alert=True)
        return None
    _unarm(context.plume, announcement_id)
    await query.answer(t("Cancelled."))
    if query.message is not None and query.message.message_id != view.status_message_id:
        await show(update, t("🛑 Announcement #{id} cancelled.", id=announcement_id))
    return None


@requires("staff")
async def card_entry(update: Update, context: PlumeContext) -> int | None:
    """Schedule, edit the text, change the audience: the next message answers."""
    query = update.callback_query
    assert query and query.data
    t = context.t
    parsed = _parse_card(query.data)
    if parsed is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return END
    action, announcement_id = parsed
    view = await context.services.announcements.get(announcement_id)
    if view is None or view.state != DRAFT:
        await query.answer(t("This announcement was already sent or cancelled."), show_alert=True)
        return END
    await query.answer()
    _remember(context, announcement_id)
    if action == "at":
        example = (utcnow() + dt.timedelta(days=1)).astimezone(context.services.settings.tz)
        await reply(
            update,
            t(
                "When should it be sent? Write a date and a time, e.g. {example} (or /annuler).",
                example=example.strftime("%d/%m %H:%M"),
            ),
        )
        return WHEN
    if action == "ed":
        if view.attachment_kind is None:
            await reply(
                update,
                t("Send me the new text (or a photo or a document with a caption), or /annuler."),
            )
            return EDIT
        await reply(
            update,
            t(
                "Send me the new text: the photo or document stays, with the text as its "
                "caption. Or send another photo or document with a caption, or /annuler."
            ),
            keyboard(
                [[button(t("🗑 Remove the photo or document"), f"{CARD}rm:{announcement_id}")]]
            ),
        )
        return EDIT
    return await ask_audience(update, context)


# -- the conversation --------------------------------------------------------------------


@requires("staff")
async def annonce(update: Update, context: PlumeContext) -> int:
    _remember(context, None)
    await reply(
        update,
        context.t(
            "📣 New announcement. Send me its text — your formatting is kept — or a photo or "
            "a document with a caption. /annuler to give up."
        ),
    )
    return COMPOSE


async def composed(update: Update, context: PlumeContext) -> int:
    person = context.person
    assert person is not None
    content = _content(update.effective_message)
    if content is None or not (content[0] or content[1]):
        await reply(update, context.t("Please send a text, a photo or a document."))
        return COMPOSE
    text, kind, file_id = content
    view = await context.services.announcements.create_draft(
        author_id=person.id, text=text, attachment_kind=kind, attachment_file_id=file_id
    )
    _remember(context, view.id)
    return await ask_audience(update, context)


async def edited(update: Update, context: PlumeContext) -> int:
    t = context.t
    announcement_id = _announcement_id(context)
    content = _content(update.effective_message)
    if content is None or not (content[0] or content[1]):
        await reply(update, t("Please send a text, a photo or a document."))
        return EDIT
    if announcement_id is None:
        return END
    text, kind, file_id = content
    message = update.effective_message
    if kind is None and message is not None and len(message.text or "") > CAPTION_LIMIT:
        draft = await context.services.announcements.get(announcement_id)
        if draft is not None and draft.attachment_kind is not None:
            await reply(
                update,
                t(
                    "A photo or document's caption holds at most {limit} characters and this "
                    "text has {n}: shorten it, or remove the photo or document first.",
                    limit=number(t.locale, CAPTION_LIMIT),
                    n=number(t.locale, len(message.text or "")),
                ),
            )
            return EDIT
    # a text alone is the new text: the draft's photo or document stays, as it was offered
    view = await context.services.announcements.set_text(
        announcement_id, text, kind, file_id, keep_attachment=kind is None
    )
    if view is None:
        await reply(update, t("This announcement was already sent or cancelled."))
        return END
    return await preview(update, context, view)


@requires("staff")
async def attachment_removed(update: Update, context: PlumeContext) -> int:
    """ "Remove the photo or document" while editing: the text alone, previewed again."""
    query = update.callback_query
    assert query and query.data
    t = context.t
    parsed = _parse_card(query.data)
    service = context.services.announcements
    view = await service.get(parsed[1]) if parsed else None
    if view is None or view.state != DRAFT:
        await query.answer(t("This announcement was already sent or cancelled."), show_alert=True)
        return END
    await query.answer()
    if not view.text.strip():
        await reply(
            update,
            t(
                "This announcement has no text besides its photo or document: send me its "
                "text first, then remove the photo or document."
            ),
        )
        return EDIT
    changed = await service.set_text(view.id, view.text, None, None)
    if changed is None:
        await reply(update, t("This announcement was already sent or cancelled."))
        return END
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    return await preview(update, context, changed)


async def when_given(update: Update, context: PlumeContext) -> int:
    t = context.t
    chat = update.effective_chat
    message = update.effective_message
    announcement_id = _announcement_id(context)
    if announcement_id is None or chat is None or message is None or not message.text:
        return END
    settings = context.services.settings
    now = utcnow()
    try:
        when = parse_moment(message.text, settings.tz, now)
    except WhenError as error:
        await reply(update, describe(t, error))
        return WHEN
    if when <= now + dt.timedelta(seconds=30):
        await reply(update, t("This moment is already past: give a later one."))
        return WHEN
    view = await context.services.announcements.schedule(announcement_id, when, chat.id)
    if view is None:
        await reply(update, t("This announcement was already sent or cancelled."))
        return END
    arm(context.plume, view)
    await reply(
        update,
        t(
            "🕒 Announcement #{id} will be sent on {when}. /annonces lists the scheduled "
            "announcements (you can cancel them there).",
            id=view.id,
            when=t.datetime(when),
        ),
    )
    _remember(context, None)
    return END


async def give_up(update: Update, context: PlumeContext) -> int:
    announcement_id = _announcement_id(context)
    if announcement_id is not None:
        view = await context.services.announcements.get(announcement_id)
        if view is not None and view.kind != NEW_ITEMS:  # new-title drafts stay for others
            await context.services.announcements.discard(announcement_id)
    _remember(context, None)
    await reply(update, context.t("Cancelled: nothing was sent."))
    return END


# -- /annonces ---------------------------------------------------------------------------


def _snippet(text: str, limit: int = 60) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\n", " ").strip()
    return escape(plain if len(plain) <= limit else plain[: limit - 1] + "…")


@requires("staff")
async def annonces(update: Update, context: PlumeContext) -> None:
    """Drafts, scheduled, running and recently sent announcements, with their counts: one
    message, every figure read once (one query for the audiences, one for the deliveries)."""
    person = context.person
    assert person is not None
    t = context.t
    service = context.services.announcements
    views = await service.for_listing(person.id)
    if not views:
        await reply(update, t("No announcement: no draft, none scheduled, sent or being sent."))
        return
    audiences = await service.count_many(v.audience for v in views if v.state != DONE)
    deliveries = await service.delivery_counts(v.id for v in views if v.state in (SENDING, DONE))
    sections: dict[str, list[str]] = {DRAFT: [], SCHEDULED: [], SENDING: [], DONE: []}
    rows = []
    for view in views:
        label = await audience_label(context.services, view.audience, t)
        counts = deliveries.get(view.id, {})
        if view.state == DRAFT:
            figure = t.tn("{count} recipient", "{count} recipients", audiences[view.audience])
            rows.append([button(t("📝 Open #{id}", id=view.id), f"{CARD}op:{view.id}")])
        elif view.state == SCHEDULED:
            when = t.datetime(view.scheduled_at) if view.scheduled_at else "?"
            figure = t.tn(
                "{when}, {count} recipient",
                "{when}, {count} recipients",
                audiences[view.audience],
                when=when,
            )
            rows.append([button(t("✖ Cancel #{id}", id=view.id), f"{CARD}x:{view.id}")])
        elif view.state == SENDING:
            total = sum(counts.values())
            figure = t.tn(
                "{count} sent out of {total}",
                "{count} sent out of {total}",
                counts.get(SENT, 0),
                total=total,
            )
            rows.append([button(t("✖ Cancel #{id}", id=view.id), f"{CARD}x:{view.id}")])
        else:
            figure = t.tn("{count} person reached", "{count} people reached", counts.get(SENT, 0))
            missed = counts.get(FAILED, 0) + counts.get(UNREACHABLE, 0)
            if missed:
                figure += ", " + t.tn("{count} not reached", "{count} not reached", missed)
        sections[view.state].append(
            t(
                "#{id} — {label} — {figure}\n   {snippet}",
                id=view.id,
                label=label,
                figure=figure,
                snippet=_snippet(view.text),
            )
        )
    titles = {
        DRAFT: t("<b>Drafts</b>"),
        SCHEDULED: t("<b>Scheduled announcements</b>"),
        SENDING: t("<b>Being sent</b>"),
        DONE: t("<b>Recently sent</b>"),
    }
    lines: list[str] = []
    for state, entries in sections.items():
        if entries:
            lines += ["", titles[state], *entries] if lines else [titles[state], *entries]
    await reply(update, "\n".join(lines), keyboard(rows))


# -- jobs: scheduled sends, new-title drafts, resuming -----------------------------------


def _job_name(announcement_id: int) -> str:
    return f"announcement-{announcement_id}"


def arm(application: PlumeApplication, view: AnnouncementView) -> None:
    """A JobQueue job at the scheduled time (rebuilt from the database at each start)."""
    _unarm(application, view.id)
    assert application.job_queue is not None and view.scheduled_at is not None
    delay = (view.scheduled_at - utcnow()).total_seconds()
    application.job_queue.run_once(
        fire_scheduled, when=max(0.0, delay), data=view.id, name=_job_name(view.id)
    )


def _unarm(application: PlumeApplication, announcement_id: int) -> None:
    if application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(_job_name(announcement_id)):
        job.schedule_removal()


async def _start_due(application: PlumeApplication, announcement_id: int) -> None:
    services = application.services
    view = await services.announcements.start_sending(
        announcement_id, stop_markup(services.settings.default_locale), from_states=(SCHEDULED,)
    )
    if view is not None:
        application.broadcasts.start(announcement_id)


async def fire_scheduled(context: PlumeContext) -> None:
    job = context.job
    if job is not None and isinstance(job.data, int):
        await _start_due(context.plume, job.data)


async def notify_staff(application: PlumeApplication, view: AnnouncementView) -> int:
    """Shows a new-title draft to every staff member, with the card to act on it (three
    outbox rows each, keyed: a second call shows nothing twice)."""
    services = application.services
    shown = 0
    count = await services.announcements.count(view.audience)  # once for every card
    for person in await services.users.privileged():
        if not person.reachable:
            continue
        t = translator(person.language, services.settings.timezone)
        stop = stop_keyboard(t, view.topic)
        method, payload = recipient_payload(view, stop.to_dict() if stop else None)
        key = f"draft:{view.id}:{person.telegram_id}"
        async with services.sessions.begin() as session:
            await enqueue(
                session,
                kind="draft_notice",
                chat_id=person.telegram_id,
                text=t(
                    "🆕 New titles were imported. Here is a draft announcement for their "
                    "subscribers: edit it if you wish, then send it. Nothing is sent without "
                    "your approval."
                ),
                dedupe_key=f"{key}:intro",
            )
            await enqueue(
                session,
                kind="draft_notice",
                chat_id=person.telegram_id,
                method=method,
                payload=payload,
                dedupe_key=f"{key}:copy",
            )
            await enqueue(
                session,
                kind="draft_notice",
                chat_id=person.telegram_id,
                text=await card_text(services, view, t, count),
                reply_markup=card_keyboard(t, person, view.id).to_dict(),
                dedupe_key=f"{key}:card",
            )
        shown += 1
    services.outbox.wake()
    return shown


async def tick(context: PlumeContext) -> None:
    """New-title drafts to show, due announcements, broadcasts left without a sender."""
    application = context.plume
    services = application.services
    service = services.announcements
    for draft in await service.drafts_to_notify():
        await service.mark_notified(draft.id)
        await notify_staff(application, draft)
    for view in await service.due(utcnow()):
        await _start_due(application, view.id)
    for view in await service.in_states((SENDING,)):
        application.broadcasts.start(view.id)  # no-op when already running


async def on_start(application: PlumeApplication) -> None:
    services = application.services
    service = services.announcements
    for view in await service.in_states((SCHEDULED,)):
        arm(application, view)
    for view in await service.in_states((SENDING,)):
        application.broadcasts.start(view.id)
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        tick, interval=TICK_SECONDS, first=min(TICK_SECONDS, 2.0), name="announcements-tick"
    )


def handlers() -> list[PlumeHandler]:
    content = (filters.TEXT | filters.PHOTO | filters.Document.ALL) & ~filters.COMMAND
    return [
        conversation(
            name="announcement_composer",
            role="staff",
            keys=(CURRENT,),
            left_behind=N_(
                "The announcement you were preparing was not sent; a draft already saved stays "
                "in /annonces."
            ),
            entry_points=[
                CommandHandler(names("announce"), annonce),
                CallbackQueryHandler(card_entry, pattern=rf"^{CARD}(at|ed|au):"),
                CallbackQueryHandler(attachment_removed, pattern=rf"^{CARD}rm:"),
            ],
            states={
                COMPOSE: [MessageHandler(content, composed)],
                AUDIENCE: [CallbackQueryHandler(audience_pick, pattern=f"^{AUDIENCE_PICK}")],
                PREVIEW: [CallbackQueryHandler(card_action, pattern=rf"^{CARD}(go|pd|no):")],
                WHEN: [MessageHandler(filters.TEXT & ~filters.COMMAND, when_given)],
                EDIT: [MessageHandler(content, edited)],
            },
            fallbacks=[CommandHandler(names("cancel"), give_up)],
            conversation_timeout=CONVERSATION_TIMEOUT,
            allow_reentry=True,
        ),
        CallbackQueryHandler(card_action, pattern=f"^{CARD}"),
        CommandHandler(names("announcements"), annonces),
    ]
