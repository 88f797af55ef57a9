"""Workshops for patrons: /ateliers, the cards, registration, the calendar file, reminders.

Callback data (``W:`` + action + ``:`` + workshop id): ``r`` register (or join the waiting
list), ``u`` unregister, ``x`` "I won't come" under a reminder, ``i`` the .ics file, ``m`` more
cards (``W:m:<first>``), ``f`` a rating (``W:f:<id>:<1-5>``), ``s`` skip the comment.

The reminders are sent by :class:`bot.workshops.sender.ReminderSender` (built by bot.app),
with the words and buttons of :func:`render_reminder`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeApplication, PlumeContext, PlumeHandler
from bot.i18n import N_, Translator, translator
from bot.outbox import enqueue
from bot.shared.callbacks import WORKSHOP_CALENDAR as CALENDAR
from bot.shared.callbacks import WORKSHOP_LEAVE_LIST as LEAVE_LIST
from bot.shared.callbacks import WORKSHOP_LIST as LIST
from bot.shared.callbacks import WORKSHOP_MORE as MORE
from bot.shared.callbacks import WORKSHOP_OPEN as OPEN
from bot.shared.callbacks import WORKSHOP_RATE as RATE
from bot.shared.callbacks import WORKSHOP_REGISTER as REGISTER
from bot.shared.callbacks import WORKSHOP_SKIP as SKIP
from bot.shared.callbacks import WORKSHOP_UNREGISTER as UNREGISTER
from bot.shared.callbacks import WORKSHOP_WONT_COME as WONT_COME
from bot.shared.when import duration_text
from bot.usage import REGISTRATION, UNREGISTRATION
from bot.workshops.reminders import FEEDBACK, DueMessage
from bot.workshops.service import (
    REGISTERED,
    WAITING,
    Enrollment,
    Outcome,
    Recipient,
    WorkshopView,
    ics_calendar,
)
from handlers.shared.common import button, conversation, escape, keyboard, reply, show
from handlers.shared.menus import names
from handlers.shared.pager import nav_row
from storage.db import AsyncSession
from storage.models import utcnow

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 5
DEEP_LINK_PREFIX: Final = "atelier-"
COMMENT: Final = 1
COMMENT_TIMEOUT: Final = 15 * 60
RATING_KEY: Final = "workshop_rating"

__all__ = ["show_workshop", "workshop_link"]


# -- rendering -----------------------------------------------------------------------------


def place_text(name: str, address: str, commune: str) -> str:
    details = ", ".join(part for part in (address, commune) if part and part not in name)
    return escape(f"{name} — {details}" if details else name)


def when_text(t: Translator, starts_at: dt.datetime, duration_min: int) -> str:
    return t(
        "{when} ({duration})",
        when=t.datetime(starts_at),
        duration=duration_text(t, duration_min),
    )


def seats_text(t: Translator, view: WorkshopView) -> str:
    if view.cancelled:
        return t("❌ Cancelled")
    if not view.full:
        return t.tn(
            "👥 {count} seat left out of {capacity}",
            "👥 {count} seats left out of {capacity}",
            view.seats_left,
            capacity=view.capacity,
        )
    if view.waiting:
        return t.tn(
            "👥 Full — {count} person on the waiting list",
            "👥 Full — {count} people on the waiting list",
            view.waiting,
        )
    return t("👥 Full — the waiting list is open")


def card_text(
    t: Translator, view: WorkshopView, enrollment: Enrollment | None, now: dt.datetime
) -> str:
    lines = [
        f"<b>{escape(view.title)}</b>",
        t("📅 {when}", when=when_text(t, view.starts_at, view.duration_min)),
        t(
            "📍 {place}",
            place=place_text(view.library_name, view.library_address, view.library_commune),
        ),
        seats_text(t, view),
    ]
    if view.description:
        lines += ["", escape(view.description)]
    if enrollment and enrollment.status == REGISTERED:
        lines += ["", t("✅ You are registered.")]
    elif enrollment and enrollment.status == WAITING:
        lines += [
            "",
            t("⏳ You are on the waiting list (number {position}).", position=enrollment.position),
        ]
    if view.started(now) and not view.cancelled:
        lines += ["", t("This workshop has begun: registrations are closed.")]
    return "\n".join(lines)


def card_keyboard(
    t: Translator, view: WorkshopView, enrollment: Enrollment | None, now: dt.datetime
) -> InlineKeyboardMarkup:
    rows = []
    if not view.cancelled and not view.started(now):
        if enrollment is None:
            label = t("✍️ Sign me up") if not view.full else t("⏳ Join the waiting list")
            rows.append([button(label, f"{REGISTER}{view.id}")])
        else:
            if enrollment.status == REGISTERED:
                rows.append([button(t("Unregister"), f"{UNREGISTER}{view.id}")])
            else:
                rows.append([button(t("Leave the list"), f"{LEAVE_LIST}{view.id}")])
        rows.append([button(t("📆 Add to my calendar"), f"{CALENDAR}{view.id}")])
    return keyboard(rows)


def workshop_link(bot_username: str, workshop_id: str) -> str:
    return f"https://t.me/{bot_username}?start={DEEP_LINK_PREFIX}{workshop_id}"


def reminder_text(t: Translator, message: DueMessage) -> tuple[str, InlineKeyboardMarkup]:
    place = place_text(message.library_name, message.library_address, message.library_commune)
    if message.kind == FEEDBACK:
        text = t(
            "How was the workshop “{title}”? Give it a mark from 1 to 5: it helps your "
            "library plan the next ones.",
            title=escape(message.title),
        )
        stars = [button("⭐" * n, f"{RATE}{message.workshop_id}:{n}") for n in range(1, 6)]
        return text, keyboard([stars[:3], stars[3:]])
    text = t(
        "⏰ <b>Reminder</b>: the workshop “{title}” is on {when}.\n📍 {place}\n\nSee you "
        "there! If you cannot come, say so: your seat will go to someone waiting.",
        title=escape(message.title),
        when=t.datetime(message.starts_at),
        place=place,
    )
    markup = keyboard(
        [
            [button(t("🙁 I won't come"), f"{WONT_COME}{message.workshop_id}")],
            [button(t("📆 Add to my calendar"), f"{CALENDAR}{message.workshop_id}")],
        ]
    )
    return text, markup


def render_reminder(t: Translator, message: DueMessage) -> tuple[str, dict[str, Any]]:
    """For :class:`bot.workshops.sender.ReminderSender`: the markup as the outbox stores it."""
    text, markup = reminder_text(t, message)
    return text, markup.to_dict()


# -- the list and the cards ----------------------------------------------------------------


async def list_workshops(update: Update, context: PlumeContext) -> None:
    await send_list(update, context, 0, edit=False)


async def more_workshops(update: Update, context: PlumeContext) -> None:
    """Another page of the list, in the same message."""
    query = update.callback_query
    assert query and query.data
    await query.answer()
    await send_list(update, context, int(query.data.removeprefix(MORE)), edit=True)


async def list_from_card(update: Update, context: PlumeContext) -> None:
    """The list, asked for from an answer card ("prochains ateliers"): a message of its own."""
    query = update.callback_query
    assert query
    await query.answer()
    await send_list(update, context, 0, edit=False)


async def open_card(update: Update, context: PlumeContext) -> None:
    """One workshop's card, asked for from the list (a message of its own: the list stays)."""
    query = update.callback_query
    assert query and query.data
    await query.answer()
    await show_workshop(update, context, query.data.removeprefix(OPEN))


def list_line(
    t: Translator, number: int, view: WorkshopView, status: str | None, now: dt.datetime
) -> str:
    mark = {REGISTERED: " ✅", WAITING: " ⏳"}.get(status or "", "")
    full = t(" — full") if view.full else ""
    return t(
        "{number}. <b>{title}</b>{mark}\n    📅 {when} · {library}{full}",
        number=number,
        title=escape(view.title),
        mark=mark,
        when=t.short_datetime(view.starts_at),
        library=escape(view.library_name),
        full=full,
    )


async def send_list(update: Update, context: PlumeContext, first: int, *, edit: bool) -> None:
    """/ateliers: one message, a page of the coming workshops (the patron's library's first),
    a numbered button per workshop for its card, and the pager."""
    person = context.person
    assert person is not None
    t = context.t
    service = context.services.workshops
    now = utcnow()
    views = await service.upcoming(person.library_id, now)
    if not views:
        text = t("No workshop is planned at the moment. Come back soon, or ask your library.")
        await (show(update, text) if edit else reply(update, text))
        return
    first = max(0, min(first, (len(views) - 1) // PAGE_SIZE * PAGE_SIZE))
    page = views[first : first + PAGE_SIZE]
    mine = await service.enrollments(person.id)
    lines = [
        t.tn(
            "<b>{count} workshop coming up</b> — free, in the network's libraries:",
            "<b>{count} workshops coming up</b> — free, in the network's libraries:",
            len(views),
        ),
        "",
        *(
            list_line(t, first + n + 1, view, mine.get(view.id), now)
            for n, view in enumerate(page)
        ),
    ]
    pages = (len(views) + PAGE_SIZE - 1) // PAGE_SIZE
    if pages > 1:
        lines += ["", t("Page {page} of {pages}", page=first // PAGE_SIZE + 1, pages=pages)]
    lines += ["", t("Choose a number to see the workshop and sign up.")]
    numbers = [button(str(first + n + 1), f"{OPEN}{view.id}") for n, view in enumerate(page)]
    pager = nav_row(
        t,
        f"{MORE}{first - PAGE_SIZE}" if first > 0 else None,
        f"{MORE}{first + PAGE_SIZE}" if first + PAGE_SIZE < len(views) else None,
    )
    markup = keyboard([numbers, pager])
    text = "\n".join(lines)
    await (show(update, text, markup) if edit else reply(update, text, markup))


async def _enrollment(
    context: PlumeContext, workshop_id: str, mine: dict[str, str]
) -> Enrollment | None:
    person = context.person
    assert person is not None
    if workshop_id not in mine:
        return None
    if mine[workshop_id] == REGISTERED:
        return Enrollment(REGISTERED, None)
    return await context.services.workshops.enrollment(workshop_id, person.id)


async def show_workshop(update: Update, context: PlumeContext, workshop_id: str) -> None:
    """One workshop's card (the deep link ``/start atelier-<id>`` of posters and QR codes)."""
    person = context.person
    assert person is not None
    t = context.t
    view = await context.services.workshops.get(workshop_id)
    if view is None:
        await reply(update, t("This workshop does not exist (any more). See /ateliers."))
        return
    now = utcnow()
    enrollment = await context.services.workshops.enrollment(view.id, person.id)
    await reply(
        update, card_text(t, view, enrollment, now), card_keyboard(t, view, enrollment, now)
    )


async def refresh_card(update: Update, context: PlumeContext, workshop_id: str) -> None:
    person = context.person
    assert person is not None
    view = await context.services.workshops.get(workshop_id)
    if view is None:
        return
    now = utcnow()
    enrollment = await context.services.workshops.enrollment(view.id, person.id)
    with contextlib.suppress(TelegramError):  # "message is not modified"
        await show(
            update,
            card_text(context.t, view, enrollment, now),
            card_keyboard(context.t, view, enrollment, now),
        )


# -- registering ---------------------------------------------------------------------------


async def register(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    workshop_id = query.data.removeprefix(REGISTER)
    service = context.services.workshops
    result = await service.register(workshop_id, person.id)
    answers = {
        Outcome.REGISTERED: t("You are registered. See you there!"),
        Outcome.ALREADY_REGISTERED: t("You are already registered."),
        Outcome.STARTED: t("This workshop has begun: registrations are closed."),
        Outcome.CANCELLED: t("This workshop was cancelled."),
        Outcome.NOT_FOUND: t("This workshop does not exist (any more). See /ateliers."),
    }
    if result.outcome in (Outcome.WAITING, Outcome.ALREADY_WAITING):
        text = t(
            "The workshop is full: you are number {position} on the waiting list. I will "
            "tell you as soon as a seat frees up.",
            position=result.position,
        )
    else:
        text = answers[result.outcome]
    await query.answer(text, show_alert=result.outcome is not Outcome.REGISTERED)
    if result.outcome is Outcome.REGISTERED:
        view = await service.get(workshop_id)
        if view is not None:
            await context.services.usage.record(
                REGISTRATION,
                user_id=person.id,
                subject_id=workshop_id,
                library_id=view.library_id,
                media_type=view.media_type,
            )
    await refresh_card(update, context, workshop_id)


async def unregister(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    wont_come = query.data.startswith(WONT_COME)
    leave_list = query.data.startswith(LEAVE_LIST)
    prefix = WONT_COME if wont_come else LEAVE_LIST if leave_list else UNREGISTER
    workshop_id = query.data.removeprefix(prefix)
    told = Notices(context.plume, promotion_notice, "promotion")
    result = await context.services.workshops.unregister(
        workshop_id, person.id, tell_promoted=told, only=WAITING if leave_list else None
    )
    if result.mismatch:  # an old card: a seat was given to them since
        await query.answer(
            t(
                "You are no longer on the waiting list: a seat was given to you, and you are "
                "registered. To free it, use “Unregister”."
            ),
            show_alert=True,
        )
        await refresh_card(update, context, workshop_id)
        return
    view = await context.services.workshops.get(workshop_id)
    if result.too_late is not None:
        await query.answer(
            t("This workshop has already begun: your registration stays as it is.")
            if result.too_late == "started"
            else t("This workshop is over: your registration stays as it is."),
            show_alert=True,
        )
        return
    if result.was is None:
        await query.answer(t("You were not registered for this workshop."), show_alert=True)
    else:
        await query.answer()
        if view is not None:
            if result.was == REGISTERED:
                await context.services.usage.record(
                    UNREGISTRATION,
                    user_id=person.id,
                    subject_id=workshop_id,
                    library_id=view.library_id,
                    media_type=view.media_type,
                )
            await promoted_told(context.plume, view, result.promoted)
    if wont_come:
        text = (
            t("Noted, thank you for telling us: your seat goes to someone else.")
            if result.was
            else t("You were not registered for this workshop.")
        )
        with contextlib.suppress(TelegramError):
            await show(update, text)
        return
    await refresh_card(update, context, workshop_id)


Render = Callable[[Translator, WorkshopView], tuple[str, InlineKeyboardMarkup | None]]


class Notices:
    """The notices of one workshop change (``bot.workshops.service.Notice``): one outbox row
    per reachable person, in the person's language, queued in the change's transaction;
    ``queued`` says how many once it committed."""

    def __init__(self, application: PlumeApplication, render: Render, kind: str) -> None:
        self.services = application.services
        self.render = render
        self.kind = kind
        self.queued = 0

    async def __call__(
        self, session: AsyncSession, view: WorkshopView, recipients: list[Recipient]
    ) -> None:
        self.queued = 0  # the change's transaction may be tried again: count this try only
        for recipient in recipients:
            if not recipient.reachable:
                continue
            t = translator(recipient.language, self.services.settings.timezone)
            text, markup = self.render(t, view)
            self.queued += await enqueue(
                session,
                kind=self.kind,
                chat_id=recipient.telegram_id,
                text=text,
                reply_markup=markup.to_dict() if markup else None,
            )


def promotion_notice(t: Translator, view: WorkshopView) -> tuple[str, InlineKeyboardMarkup]:
    """What a patron who just got a seat from the waiting list reads."""
    text = t(
        "🎉 Good news: a seat freed up for the workshop “{title}”, and it is yours. You "
        "are registered.",
        title=escape(view.title),
    )
    enrollment = Enrollment(REGISTERED, None)
    now = utcnow()
    text += "\n\n" + card_text(t, view, enrollment, now)
    return text, card_keyboard(t, view, enrollment, now)


async def promoted_told(
    application: PlumeApplication, view: WorkshopView, promoted: Sequence[Recipient]
) -> None:
    """After a change that gave seats from the waiting list committed (its notices with it):
    the outbox looks now, and the statistics count each new registration."""
    if not promoted:
        return
    services = application.services
    services.outbox.wake()
    for recipient in promoted:
        await services.usage.record(
            REGISTRATION,
            user_id=recipient.user_id,
            subject_id=view.id,
            library_id=view.library_id,
            media_type=view.media_type,
        )


async def calendar_file(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    t = context.t
    workshop_id = query.data.removeprefix(CALENDAR)
    view = await context.services.workshops.get(workshop_id)
    if view is None:
        await query.answer(t("This workshop does not exist (any more). See /ateliers."))
        return
    await query.answer()
    link = workshop_link(context.bot.username, view.id)
    data = ics_calendar(view, link)
    chat = update.effective_chat
    assert chat is not None
    await chat.send_document(
        InputFile(data, filename=f"atelier-{view.id}.ics"),
        caption=t("Open this file to add “{title}” to your calendar.", title=escape(view.title)),
    )


# -- after the workshop: the rating ----------------------------------------------------------


async def rate(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    workshop_id, _, mark = query.data.removeprefix(RATE).rpartition(":")
    view = await context.services.workshops.get(workshop_id) if workshop_id else None
    enrollment = await context.services.workshops.enrollment(workshop_id, person.id)
    if view is None or not mark.isdigit() or not 1 <= int(mark) <= 5 or enrollment is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return ConversationHandler.END
    feedback_id = await context.services.feedback.rate_subject(
        person.id,
        "workshop",
        workshop_id,
        int(mark),
        library_id=view.library_id,
        media_type=view.media_type,
    )
    await query.answer(t("Thank you!"))
    assert context.user_data is not None
    context.user_data[RATING_KEY] = feedback_id
    await show(
        update,
        t(
            "Thank you for your mark ({stars}) for “{title}”. Would you like to add a "
            "comment? Write it in one message, or press “Skip”.",
            stars="⭐" * int(mark),
            title=escape(view.title),
        ),
        keyboard([[button(t("Skip"), SKIP)]]),
    )
    return COMMENT


async def comment(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    person = context.person
    assert message and message.text and person and context.user_data is not None
    feedback_id = context.user_data.pop(RATING_KEY, None)
    if feedback_id is not None:
        await context.services.feedback.add_comment(feedback_id, person.id, message.text)
    await reply(update, context.t("Thank you, your comment was passed on to the library."))
    return ConversationHandler.END


async def skip_comment(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query is not None
    if context.user_data is not None:
        context.user_data.pop(RATING_KEY, None)
    await query.answer()
    with contextlib.suppress(TelegramError):
        await show(update, context.t("Thank you for your mark!"))
    return ConversationHandler.END


async def stop_commenting(update: Update, context: PlumeContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(RATING_KEY, None)
    await reply(update, context.t("Cancelled."))
    return ConversationHandler.END


async def stale_skip(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("workshops"), list_workshops),
        CallbackQueryHandler(more_workshops, pattern=f"^{MORE}"),
        CallbackQueryHandler(list_from_card, pattern=f"^{LIST}$"),
        CallbackQueryHandler(open_card, pattern=f"^{OPEN}"),
        CallbackQueryHandler(register, pattern=f"^{REGISTER}"),
        CallbackQueryHandler(unregister, pattern=f"^({UNREGISTER}|{WONT_COME}|{LEAVE_LIST})"),
        CallbackQueryHandler(calendar_file, pattern=f"^{CALENDAR}"),
        conversation(
            name="workshop_rating",
            keys=(RATING_KEY,),
            left_behind=N_("Your comment on the workshop was not recorded (your rating was)."),
            entry_points=[CallbackQueryHandler(rate, pattern=f"^{RATE}")],
            states={
                COMMENT: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, comment),
                    CallbackQueryHandler(skip_comment, pattern=f"^{SKIP}$"),
                ]
            },
            fallbacks=[CommandHandler(names("cancel"), stop_commenting)],
            conversation_timeout=COMMENT_TIMEOUT,
            allow_reentry=True,
        ),
        CallbackQueryHandler(stale_skip, pattern=f"^{SKIP}$"),
    ]
