"""Workshops for staff: /ateliers_gestion lists the upcoming workshops (and those of the last
two weeks, for attendance), each with a management card: edit (the form,
:mod:`handlers.workshops.form`), cancel (registered patrons are told), registrants,
attendance, the poster link and its QR code.

Callback data: ``Wa:`` + ``c`` card (``b`` back to it, in place), ``g`` list page, ``e``
edit, ``k``/``K`` cancel (ask/confirm), ``r`` registrants, ``a`` attendance sheet
(``Wa:a:<id>:<page>``), ``t`` toggle one patron's attendance
(``Wa:t:<registration>:<page>``), ``q`` link and QR code.
"""

from __future__ import annotations

import contextlib
import io
from typing import Final

import qrcode
from qrcode.image.pil import PilImage
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
)

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import N_, Translator
from bot.shared.callbacks import MANAGE as MANAGE
from bot.shared.callbacks import MANAGE_BACK as BACK
from bot.shared.callbacks import MANAGE_CANCEL_ASK as CANCEL_ASK
from bot.shared.callbacks import MANAGE_CANCEL_DO as CANCEL_DO
from bot.shared.callbacks import MANAGE_CARD as CARD
from bot.shared.callbacks import MANAGE_EDIT as EDIT
from bot.shared.callbacks import MANAGE_LINK as LINK
from bot.shared.callbacks import MANAGE_PAGE as LIST_PAGE
from bot.shared.callbacks import MANAGE_REGISTRANTS as REGISTRANTS
from bot.shared.callbacks import MANAGE_SHEET as SHEET
from bot.shared.callbacks import MANAGE_TOGGLE as TOGGLE
from bot.usage import ATTENDANCE
from bot.workshops.service import (
    REGISTERED,
    WAITING,
    WorkshopView,
    manages,
)
from handlers.shared.common import button, escape, keyboard, reply, requires, show
from handlers.shared.menus import names
from handlers.shared.pager import pager_row
from handlers.workshops.patron import (
    Notices,
    place_text,
    when_text,
    workshop_link,
)
from storage.models import utcnow

LIST_SIZE: Final = 8
SHEET_SIZE: Final = 40
TEXT_LIMIT: Final = 3500
LABEL_LIMIT: Final = 72  # a list button's text: date, library and title, on a phone
NO_LIBRARY: Final = N_(
    "Choose your library in /parametres first: staff manage their own library's workshops."
)


# -- management --------------------------------------------------------------------------------


@requires("staff")
async def manage(update: Update, context: PlumeContext) -> None:
    await send_list(update, context, 0, edit=False)


@requires("staff")
async def list_page(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    await query.answer()
    raw = query.data.removeprefix(LIST_PAGE)
    await send_list(update, context, int(raw) if raw.isdigit() else 0, edit=True)


async def send_list(update: Update, context: PlumeContext, page: int, *, edit: bool) -> None:
    person = context.person
    assert person is not None
    t = context.t
    now = utcnow()
    views = await context.services.workshops.for_staff(person, now)
    if not views:
        if not person.has_role("coordinator") and person.library_id is None:
            await reply(update, t(NO_LIBRARY))
        else:
            await reply(update, t("No workshop yet. Create one with /nouvel_atelier."))
        return
    pages = max(1, -(-len(views) // LIST_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = []
    for view in views[page * LIST_SIZE : (page + 1) * LIST_SIZE]:
        mark = "✔️ " if view.started(now) else ""
        label = f"{mark}{t.short_date(view.starts_at)} · {view.library_name} · {view.title}"
        if len(label) > LABEL_LIMIT:
            label = label[: LABEL_LIMIT - 1] + "…"
        rows.append([button(label, f"{CARD}{view.id}")])
    nav = pager_row(t, page, pages, lambda p: f"{LIST_PAGE}{p}")
    text = t(
        "<b>Workshops</b> ({count}) — choose one to manage it; ✔️ = already held. "
        "/nouvel_atelier to create one.",
        count=len(views),
    )
    markup = keyboard([*rows, nav])
    if edit:
        with contextlib.suppress(TelegramError):
            await show(update, text, markup)
    else:
        await reply(update, text, markup)


async def _workshop_from(
    update: Update, context: PlumeContext, prefix: str
) -> WorkshopView | None:
    query = update.callback_query
    assert query and query.data
    view = await context.services.workshops.get(query.data.removeprefix(prefix).split(":")[0])
    if view is None:
        await query.answer(context.t("This workshop does not exist (any more)."), show_alert=True)
        return None
    if not await _may_manage(update, context, view.library_id, view.library_name):
        return None
    return view


async def _may_manage(
    update: Update, context: PlumeContext, library_id: str | None, library_name: str
) -> bool:
    """Staff manage their library's workshops only; others are told whose it is."""
    person = context.person
    assert person is not None
    if manages(person, library_id):
        return True
    t = context.t
    text = (
        t(NO_LIBRARY)
        if person.library_id is None and not person.has_role("coordinator")
        else t(
            "This workshop is managed by its library ({library}) or a coordinator.",
            library=library_name,
        )
    )
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await reply(update, escape(text))
    return False


def manage_text(t: Translator, view: WorkshopView, link: str) -> str:
    registered = t.tn(
        "{count} registered out of {capacity}",
        "{count} registered out of {capacity}",
        view.registered,
        capacity=view.capacity,
    )
    waiting = t.tn("{count} waiting", "{count} waiting", view.waiting)
    lines = [
        f"<b>{escape(view.title)}</b>",
        t("📅 {when}", when=when_text(t, view.starts_at, view.duration_min)),
        t(
            "📍 {place}",
            place=place_text(view.library_name, view.library_address, view.library_commune),
        ),
        t("👥 {registered}, {waiting}", registered=registered, waiting=waiting),
        t("🔗 {link}", link=escape(link)),
    ]
    if view.cancelled:
        lines.insert(1, t("❌ Cancelled"))
    return "\n".join(lines)


def manage_keyboard(t: Translator, view: WorkshopView) -> InlineKeyboardMarkup:
    rows = [
        [
            button(t("👥 Registrants"), f"{REGISTRANTS}{view.id}"),
            button(t("✅ Attendance"), f"{SHEET}{view.id}:0"),
        ],
        [button(t("🔗 Link and QR code"), f"{LINK}{view.id}")],
    ]
    if not view.cancelled and not view.started(utcnow()):
        rows.insert(
            0,
            [
                button(t("✏️ Edit"), f"{EDIT}{view.id}"),
                button(t("❌ Cancel the workshop"), f"{CANCEL_ASK}{view.id}"),
            ],
        )
    return keyboard(rows)


async def send_card(
    update: Update, context: PlumeContext, view: WorkshopView, *, edit: bool
) -> None:
    t = context.t
    text = manage_text(t, view, workshop_link(context.bot.username, view.id))
    if edit:
        with contextlib.suppress(TelegramError):
            await show(update, text, manage_keyboard(t, view))
    else:
        await reply(update, text, manage_keyboard(t, view))


@requires("staff")
async def card(update: Update, context: PlumeContext) -> None:
    """The management card: a new message from the list, in place when going back."""
    query = update.callback_query
    assert query and query.data
    back = query.data.startswith(BACK)
    view = await _workshop_from(update, context, BACK if back else CARD)
    if view is not None:
        await query.answer()
        await send_card(update, context, view, edit=back)


@requires("staff")
async def ask_cancel(update: Update, context: PlumeContext) -> None:
    view = await _workshop_from(update, context, CANCEL_ASK)
    if view is None:
        return
    query = update.callback_query
    assert query is not None
    await query.answer()
    t = context.t
    text = t.tn(
        "Cancel “{title}” of {when}? The {count} registered or waiting patron will be told.",
        "Cancel “{title}” of {when}? The {count} registered and waiting patrons will be told.",
        view.registered + view.waiting,
        title=escape(view.title),
        when=t.datetime(view.starts_at),
    )
    markup = keyboard(
        [
            [button(t("Yes, cancel it"), f"{CANCEL_DO}{view.id}")],
            [button(t("No, keep it"), f"{BACK}{view.id}")],
        ]
    )
    await reply(update, text, markup)


@requires("staff")
async def do_cancel(update: Update, context: PlumeContext) -> None:
    view = await _workshop_from(update, context, CANCEL_DO)
    if view is None:
        return
    query = update.callback_query
    assert query is not None
    t = context.t

    def render(t: Translator, view: WorkshopView) -> tuple[str, InlineKeyboardMarkup | None]:
        text = t(
            "❌ Sorry: the workshop “{title}” of {when} ({place}) is cancelled. See the other "
            "workshops with /ateliers.",
            title=escape(view.title),
            when=t.datetime(view.starts_at),
            place=escape(view.library_name),
        )
        return text, None

    told = Notices(context.plume, render, "workshop_notice")
    recipients = await context.services.workshops.cancel(view.id, tell=told)
    if recipients is None:
        await query.answer(t("This workshop was already cancelled."), show_alert=True)
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await show(
            update,
            _cancelled_text(t, len(recipients)),
        )
    await say_told(update, context, told)


def _cancelled_text(t: Translator, count: int) -> str:
    if count == 0:
        return t("Workshop cancelled. Nobody was registered.")
    if count == 1:  # "la personne concernée", not "la 1 personne"
        return t("Workshop cancelled. I am telling the patron concerned.")
    return t.tn(
        "Workshop cancelled. I am telling the {count} patron concerned.",
        "Workshop cancelled. I am telling the {count} patrons concerned.",
        count,
    )


async def say_told(update: Update, context: PlumeContext, told: Notices) -> None:
    """Once the change committed with its notices: the outbox looks now, and the staff
    member learns how many patrons they went to."""
    context.services.outbox.wake()
    if update.effective_chat is None:
        return
    with contextlib.suppress(TelegramError):
        await update.effective_chat.send_message(
            context.t.tn("{count} patron was told.", "{count} patrons were told.", told.queued)
        )


@requires("staff")
async def registrants(update: Update, context: PlumeContext) -> None:
    view = await _workshop_from(update, context, REGISTRANTS)
    if view is None:
        return
    assert update.callback_query
    await update.callback_query.answer()
    t = context.t
    people = await context.services.workshops.registrants(view.id)
    registered = [p for p in people if p.status == REGISTERED]
    waiting = [p for p in people if p.status == WAITING]
    lines = [
        t(
            "<b>Registrants of “{title}”</b> ({count}/{capacity})",
            title=escape(view.title),
            count=len(registered),
            capacity=view.capacity,
        )
    ]
    marks = {True: " ✅", False: " ❌", None: ""}
    lines += [
        f"{n}. {escape(p.first_name or '?')}{marks[p.attended]}"
        for n, p in enumerate(registered, 1)
    ] or [t("Nobody yet.")]
    if waiting:
        lines += ["", t("<b>Waiting list</b>")]
        lines += [f"{n}. {escape(p.first_name or '?')}" for n, p in enumerate(waiting, 1)]
    text = ""
    for index, line in enumerate(lines):
        if len(text) + len(line) > TEXT_LIMIT:
            text += t.tn("… and {count} more.", "… and {count} more.", len(lines) - index)
            break
        text += line + "\n"
    await reply(update, text.rstrip(), keyboard([[button(t("◀ Back"), f"{BACK}{view.id}")]]))


async def _sheet(update: Update, context: PlumeContext, view: WorkshopView, page: int) -> None:
    t = context.t
    people = [
        p for p in await context.services.workshops.registrants(view.id) if p.status == REGISTERED
    ]
    pages = max(1, -(-len(people) // SHEET_SIZE))
    page = min(max(page, 0), pages - 1)
    marks = {True: "✅", False: "❌", None: "▫️"}
    shown = people[page * SHEET_SIZE : (page + 1) * SHEET_SIZE]
    buttons = [
        button(
            f"{marks[p.attended]} {p.first_name or '?'}"[:40],
            f"{TOGGLE}{p.registration_id}:{page}",
        )
        for p in shown
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    nav = pager_row(t, page, pages, lambda p: f"{SHEET}{view.id}:{p}")
    present = sum(1 for p in people if p.attended)
    text = t.tn(
        "<b>Attendance — {title}</b>\nTap a name: ✅ came, ❌ did not come. {count} of "
        "{total} marked present.",
        "<b>Attendance — {title}</b>\nTap a name: ✅ came, ❌ did not come. {count} of "
        "{total} marked present.",
        present,
        title=escape(view.title),
        total=len(people),
    )
    if not people:
        text = t("Nobody is registered for “{title}”.", title=escape(view.title))
    with contextlib.suppress(TelegramError):
        await show(update, text, keyboard([*rows, nav, [button(t("◀ Back"), f"{BACK}{view.id}")]]))


@requires("staff")
async def sheet(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    view = await _workshop_from(update, context, SHEET)
    if view is None:
        return
    await query.answer()
    raw = query.data.rpartition(":")[2]
    await _sheet(update, context, view, int(raw) if raw.isdigit() else 0)


@requires("staff")
async def toggle(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    t = context.t
    raw_id, _, raw_page = query.data.removeprefix(TOGGLE).partition(":")
    service = context.services.workshops
    library_id = await service.library_of_registration(int(raw_id))
    library = await context.services.libraries.get(library_id)
    if library_id is not None and not await _may_manage(
        update, context, library_id, library.name if library else library_id
    ):
        return
    marked = await service.toggle_attendance(int(raw_id)) if raw_id.isdigit() else None
    if marked is None:
        await query.answer(t("This patron is no longer registered."), show_alert=True)
        return
    await query.answer()
    if marked.first_time:
        await context.services.usage.record(
            ATTENDANCE,
            user_id=marked.user_id,
            subject_id=marked.workshop_id,
            library_id=marked.library_id,
            media_type=marked.media_type,
        )
    view = await service.get(marked.workshop_id)
    if view is not None:
        await _sheet(update, context, view, int(raw_page) if raw_page.isdigit() else 0)


@requires("staff")
async def link(update: Update, context: PlumeContext) -> None:
    view = await _workshop_from(update, context, LINK)
    if view is None:
        return
    query = update.callback_query
    assert query is not None
    await query.answer()
    url = workshop_link(context.bot.username, view.id)
    image = qrcode.make(url, box_size=10, border=4, image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(
        InputFile(buffer.getvalue(), filename=f"atelier-{view.id}.png"),
        caption=context.t(
            "For the poster of “{title}”: this QR code and this link open the workshop's "
            "card in Plume.\n{link}",
            title=escape(view.title),
            link=escape(url),
        ),
    )


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("manage_workshops"), manage),
        CallbackQueryHandler(list_page, pattern=f"^{LIST_PAGE}"),
        CallbackQueryHandler(card, pattern=f"^({CARD}|{BACK})"),
        CallbackQueryHandler(ask_cancel, pattern=f"^{CANCEL_ASK}"),
        CallbackQueryHandler(do_cancel, pattern=f"^{CANCEL_DO}"),
        CallbackQueryHandler(registrants, pattern=f"^{REGISTRANTS}"),
        CallbackQueryHandler(sheet, pattern=f"^{SHEET}"),
        CallbackQueryHandler(toggle, pattern=f"^{TOGGLE}"),
        CallbackQueryHandler(link, pattern=f"^{LINK}"),
    ]
