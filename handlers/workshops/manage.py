"""Workshops for staff: create and edit with a guided conversation, cancel, registrants,
attendance, the poster link and its QR code.

/nouvel_atelier asks title, library, date and time, duration, seats, description and media
type, then shows a preview (any field can be changed there) before saving. /ateliers_gestion
lists the upcoming workshops (and those of the last two weeks, for attendance), each with a
management card.

Callback data: management ``Wa:`` + ``c`` card (``b`` back to it, in place), ``g`` list
page, ``e`` edit, ``k``/``K`` cancel (ask/confirm), ``r`` registrants, ``a`` attendance sheet
(``Wa:a:<id>:<page>``), ``t`` toggle one patron's attendance (``Wa:t:<registration>:<page>``),
``q`` link and QR code. Inside the conversation
``Wb:`` + ``L`` library, ``P`` library page, ``d`` duration, ``n`` no description, ``M`` media
type, ``F`` change a field, ``S`` save, ``X`` give up.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Final

import qrcode
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import PlumeContext
from bot.i18n import N_, Translator
from bot.shared.labels import MEDIA_THEMES
from bot.shared.when import WhenError, describe, parse_duration, parse_moment
from bot.usage import ATTENDANCE
from bot.workshops.service import (
    REGISTERED,
    WAITING,
    Draft,
    Recipient,
    WorkshopError,
    WorkshopView,
    manages,
)
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires, show
from handlers.shared.menus import names
from handlers.shared.pager import pager_row
from handlers.shared.pickers import library_rows
from handlers.workshops.patron import (
    announce,
    duration_text,
    place_text,
    tell_promoted,
    when_text,
    workshop_link,
)
from storage.models import MEDIA_TYPES, utcnow

MANAGE: Final = "Wa:"
CARD: Final = "Wa:c:"
BACK: Final = "Wa:b:"
LIST_PAGE: Final = "Wa:g:"
EDIT: Final = "Wa:e:"
CANCEL_ASK: Final = "Wa:k:"
CANCEL_DO: Final = "Wa:K:"
REGISTRANTS: Final = "Wa:r:"
SHEET: Final = "Wa:a:"
TOGGLE: Final = "Wa:t:"
LINK: Final = "Wa:q:"

PICK_LIBRARY: Final = "Wb:L:"
LIBRARY_PAGE: Final = "Wb:P:"
DURATION: Final = "Wb:d:"
NO_DESCRIPTION: Final = "Wb:n"
MEDIA: Final = "Wb:M:"
FIELD: Final = "Wb:F:"
SAVE: Final = "Wb:S"
QUIT: Final = "Wb:X"

DRAFT_KEY: Final = "workshop_draft"
EDITING_KEY: Final = "workshop_editing"
TIMEOUT_SECONDS: Final = 30 * 60
LIST_SIZE: Final = 8
LIBRARY_PAGE_SIZE: Final = 8
SHEET_SIZE: Final = 40
TEXT_LIMIT: Final = 3500
LABEL_LIMIT: Final = 72  # a list button's text: date, library and title, on a phone
NO_LIBRARY: Final = N_(
    "Choose your library in /parametres first: staff manage their own library's workshops."
)

# conversation states, one per field, then the preview
TITLE, LIBRARY, WHEN, LENGTH, SEATS, DESCRIPTION, MEDIA_TYPE, PREVIEW = range(8)
STATE_OF: Final = {
    "title": TITLE,
    "library_id": LIBRARY,
    "starts_at": WHEN,
    "duration_min": LENGTH,
    "capacity": SEATS,
    "description": DESCRIPTION,
    "media_type": MEDIA_TYPE,
}


# -- the conversation ------------------------------------------------------------------------


def _draft(context: PlumeContext) -> Draft:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT_KEY)
    return draft if isinstance(draft, Draft) else Draft()


def _keep(context: PlumeContext, draft: Draft) -> None:
    assert context.user_data is not None
    context.user_data[DRAFT_KEY] = draft


def _forget(context: PlumeContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
        context.user_data.pop(EDITING_KEY, None)


def _editing(context: PlumeContext) -> str | None:
    assert context.user_data is not None
    return context.user_data.get(EDITING_KEY)


@requires("staff")
async def new_workshop(update: Update, context: PlumeContext) -> int:
    person = context.person
    assert person is not None
    if not person.has_role("coordinator") and person.library_id is None:
        await reply(update, context.t(NO_LIBRARY))
        return ConversationHandler.END
    _forget(context)
    _keep(context, Draft())
    await reply(
        update,
        context.t("<b>New workshop</b> — I will ask a few questions; /annuler to stop."),
    )
    return await ask(update, context, "title")


@requires("staff")
async def edit_workshop(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data and context.user_data is not None
    view = await context.services.workshops.get(query.data.removeprefix(EDIT))
    if view is None or view.cancelled:
        await query.answer(context.t("This workshop can no longer be changed."), show_alert=True)
        return ConversationHandler.END
    if not await _may_manage(update, context, view.library_id, view.library_name):
        return ConversationHandler.END
    await query.answer()
    _forget(context)
    _keep(context, Draft.of(view))
    context.user_data[EDITING_KEY] = view.id
    return await preview(update, context, edit=False)


async def ask(update: Update, context: PlumeContext, field: str) -> int:
    """Asks for one field; returns its state."""
    t = context.t
    markup: InlineKeyboardMarkup | None = None
    if field == "title":
        text = t("What is the workshop's title? (e.g. “First steps with an e-reader”)")
    elif field == "library_id":
        text = t("In which library?")
        markup = await _library_keyboard(context, 0)
    elif field == "starts_at":
        text = t(
            "Date and start time? For example <code>samedi prochain 14h</code>, "
            "<code>12/03 14h30</code> or <code>3 Jan 10am</code> (local time)."
        )
    elif field == "duration_min":
        text = t("How long does it last? Choose, or write it (e.g. <code>1h30</code>).")
        markup = keyboard(
            [[button(duration_text(t, m), f"{DURATION}{m}") for m in (60, 90, 120, 180)]]
        )
    elif field == "capacity":
        text = t("How many seats? (a number, e.g. 8)")
    elif field == "description":
        text = t("A short description for patrons (what to bring, for whom...)?")
        markup = keyboard([[button(t("No description"), NO_DESCRIPTION)]])
    else:
        text = t("Which part of the digital library is it about?")
        rows = [
            [button(t(MEDIA_THEMES[m]), f"{MEDIA}{m}") for m in MEDIA_TYPES[i : i + 3]]
            for i in range(0, len(MEDIA_TYPES), 3)
        ]
        markup = keyboard([*rows, [button(t("None in particular"), f"{MEDIA}-")]])
    await reply(update, text, markup)
    return STATE_OF[field]


async def _library_keyboard(context: PlumeContext, page: int) -> InlineKeyboardMarkup:
    person = context.person
    assert person is not None
    t = context.t
    libraries = [lib for lib in await context.services.libraries.all() if manages(person, lib.id)]
    libraries.sort(key=lambda lib: (lib.id != person.library_id, lib.name.casefold()))
    pages = max(1, -(-len(libraries) // LIBRARY_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    start = page * LIBRARY_PAGE_SIZE
    rows = library_rows(
        t,
        libraries[start : start + LIBRARY_PAGE_SIZE],
        page,
        pages,
        lambda id_: f"{PICK_LIBRARY}{id_}",
        lambda p: f"{LIBRARY_PAGE}{p}",
    )
    return keyboard(rows)


async def _next(update: Update, context: PlumeContext, draft: Draft) -> int:
    _keep(context, draft)
    field = draft.missing()
    if field is not None:
        return await ask(update, context, field)
    return await preview(update, context, edit=False)


async def got_title(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    title = " ".join(message.text.split())
    if not 3 <= len(title) <= 200:
        await reply(update, context.t("Please give a title of 3 to 200 characters."))
        return TITLE
    return await _next(update, context, _draft(context).with_(title=title))


async def library_page(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    await query.answer()
    raw = query.data.removeprefix(LIBRARY_PAGE)
    if raw.isdigit():
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(await _library_keyboard(context, int(raw)))
    return LIBRARY


async def got_library(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    library = await context.services.libraries.get(query.data.removeprefix(PICK_LIBRARY))
    if library is None:
        await query.answer(context.t("This library no longer exists, please choose again."))
        return LIBRARY
    if not await _may_manage(update, context, library.id, library.name):
        return LIBRARY
    await query.answer()
    with contextlib.suppress(TelegramError):
        await show(update, context.t("Library: {name}", name=escape(library.name)))
    return await _next(update, context, _draft(context).with_(library_id=library.id))


async def got_when(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    t = context.t
    tz = context.services.settings.tz
    try:
        starts_at = parse_moment(message.text, tz, utcnow())
    except WhenError as error:
        await reply(update, describe(t, error))
        return WHEN
    await reply(update, t("Noted: {when}.", when=t.datetime(starts_at)))
    return await _next(update, context, _draft(context).with_(starts_at=starts_at))


async def got_duration_button(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    await query.answer()
    raw = query.data.removeprefix(DURATION)
    if not raw.isdigit() or not 1 <= int(raw) <= 24 * 60:
        return LENGTH
    with contextlib.suppress(TelegramError):
        await show(update, context.t("Duration: {d}", d=duration_text(context.t, int(raw))))
    return await _next(update, context, _draft(context).with_(duration_min=int(raw)))


async def got_duration_text(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    try:
        minutes = int(parse_duration(message.text).total_seconds() // 60)
    except WhenError as error:
        if error.code == "bare_number":
            await reply(update, describe(context.t, error))
            return LENGTH
        minutes = 0
    if not 10 <= minutes <= 24 * 60:
        await reply(
            update,
            context.t("Please write a duration between 10 minutes and 24 hours, e.g. 1h30."),
        )
        return LENGTH
    return await _next(update, context, _draft(context).with_(duration_min=minutes))


async def got_capacity(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    raw = message.text.strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        await reply(update, context.t("Please write a number of seats between 1 and 1000."))
        return SEATS
    return await _next(update, context, _draft(context).with_(capacity=int(raw)))


async def got_description(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    text = message.text.strip()
    if len(text) > 2000:
        await reply(update, context.t("Please keep the description under 2,000 characters."))
        return DESCRIPTION
    return await _next(update, context, _draft(context).with_(description=text))


async def no_description(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query is not None
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    return await _next(update, context, _draft(context).with_(description=""))


async def got_media(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    raw = query.data.removeprefix(MEDIA)
    if raw != "-" and raw not in MEDIA_TYPES:
        await query.answer()
        return MEDIA_TYPE
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    media = None if raw == "-" else raw
    return await _next(update, context, _draft(context).with_(media_type=media, media_set=True))


def draft_text(t: Translator, draft: Draft, library_name: str, editing: bool) -> str:
    assert draft.starts_at and draft.duration_min and draft.capacity
    heading = t("<b>Preview of the changes</b>") if editing else t("<b>Preview</b>")
    lines = [
        heading,
        "",
        f"<b>{escape(draft.title or '')}</b>",
        t("📅 {when}", when=when_text(t, draft.starts_at, draft.duration_min)),
        t("📍 {place}", place=escape(library_name)),
        t.tn("👥 {count} seat", "👥 {count} seats", draft.capacity),
        t(
            "📚 {media}",
            media=t(MEDIA_THEMES[draft.media_type])
            if draft.media_type
            else t("None in particular"),
        ),
    ]
    if draft.description:
        lines += ["", escape(draft.description)]
    lines += ["", t("Save it, or change a field:")]
    return "\n".join(lines)


async def preview(update: Update, context: PlumeContext, *, edit: bool) -> int:
    t = context.t
    draft = _draft(context)
    library = await context.services.libraries.get(draft.library_id)
    text = draft_text(t, draft, library.name if library else "?", _editing(context) is not None)
    fields = [
        ("title", t("Title")),
        ("starts_at", t("Date")),
        ("duration_min", t("Duration")),
        ("capacity", t("Seats")),
        ("library_id", t("Library")),
        ("description", t("Description")),
        ("media_type", t("Media")),
    ]
    change = [button(f"✏️ {label}", f"{FIELD}{name}") for name, label in fields]
    markup = keyboard(
        [
            [button(t("💾 Save"), SAVE)],
            change[0:3],
            change[3:5],
            change[5:7],
            [button(t("✖️ Give up"), QUIT)],
        ]
    )
    if edit:
        await show(update, text, markup)
    else:
        await reply(update, text, markup)
    return PREVIEW


async def change_field(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    await query.answer()
    field = query.data.removeprefix(FIELD)
    if field not in STATE_OF:
        return PREVIEW
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    return await ask(update, context, field)


async def save(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query is not None
    t = context.t
    draft = _draft(context)
    workshop_id = _editing(context)
    service = context.services.workshops
    if draft.missing() is not None:
        await query.answer()
        return await _next(update, context, draft)
    library = await context.services.libraries.get(draft.library_id)
    if not await _may_manage(update, context, draft.library_id, library.name if library else ""):
        return PREVIEW
    if workshop_id is not None:
        current = await service.get(workshop_id)
        if current is not None and not await _may_manage(
            update, context, current.library_id, current.library_name
        ):
            return PREVIEW
    if draft.starts_at is not None and draft.starts_at <= utcnow():
        await query.answer(t("This moment is already past. Please give a date to come."))
        return await ask(update, context, "starts_at")
    try:
        if workshop_id is None:
            view = await service.create(draft)
        else:
            before = await service.get(workshop_id)
            updated = await service.update(workshop_id, draft)
            if updated is None or before is None:
                await query.answer(t("This workshop can no longer be changed."), show_alert=True)
                _forget(context)
                return ConversationHandler.END
            view = updated.view
    except WorkshopError:
        await query.answer(t("Something is missing or wrong: please check the fields."))
        return PREVIEW
    await query.answer(t("Saved."))
    _forget(context)
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    if workshop_id is not None:
        moved = updated.time_changed or before.library_id != view.library_id
        await tell_promoted(context.application, view, updated.promoted)
        if moved:
            await _tell_moved(update, context, view)
    await reply(update, t("✅ Workshop saved."))
    await send_card(update, context, view, edit=False)
    return ConversationHandler.END


async def _tell_moved(update: Update, context: PlumeContext, view: WorkshopView) -> None:
    service = context.services.workshops
    recipients = await service.recipients(view.id, (REGISTERED, WAITING))
    if not recipients:
        return

    def render(t: Translator) -> tuple[str, InlineKeyboardMarkup | None]:
        text = t(
            "🕒 The workshop “{title}” has changed: it is now on {when}.\n📍 {place}\n\n"
            "If you can no longer come, unregister with /ateliers.",
            title=escape(view.title),
            when=when_text(t, view.starts_at, view.duration_min),
            place=place_text(view.library_name, view.library_address, view.library_commune),
        )
        return text, None

    _in_background(context, recipients, render, update)


async def give_up(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    _forget(context)
    if query is not None:
        await query.answer()
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
    await reply(update, context.t("Cancelled: nothing was saved."))
    return ConversationHandler.END


async def timed_out(update: object, context: PlumeContext) -> None:
    _forget(context)
    if isinstance(update, Update) and update.effective_chat:
        with contextlib.suppress(TelegramError):
            await update.effective_chat.send_message(
                context.t("The workshop form was put aside after 30 minutes without an answer.")
            )


async def wrong_input(update: Update, context: PlumeContext) -> None:
    """Something the current question does not expect: ask again, stay in the state."""
    await reply(
        update, context.t("I did not expect that here: answer the question above, or /annuler.")
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
    recipients = await context.services.workshops.cancel(view.id)
    if recipients is None:
        await query.answer(t("This workshop was already cancelled."), show_alert=True)
        return
    await query.answer()

    def render(t: Translator) -> tuple[str, InlineKeyboardMarkup | None]:
        text = t(
            "❌ Sorry: the workshop “{title}” of {when} ({place}) is cancelled. See the other "
            "workshops with /ateliers.",
            title=escape(view.title),
            when=t.datetime(view.starts_at),
            place=escape(view.library_name),
        )
        return text, None

    with contextlib.suppress(TelegramError):
        await show(
            update,
            t.tn(
                "Workshop cancelled. I am telling the {count} patron concerned.",
                "Workshop cancelled. I am telling the {count} patrons concerned.",
                len(recipients),
            ),
        )
    _in_background(context, recipients, render, update)


def _in_background(
    context: PlumeContext,
    recipients: list[Recipient],
    render: Any,
    update: Update,
) -> None:
    """Paced notification of many patrons; the staff member gets the count at the end."""
    application: Application = context.application  # type: ignore[type-arg]
    t = context.t
    chat = update.effective_chat

    async def run() -> None:
        reached = await announce(application, recipients, render)
        if chat is not None:
            with contextlib.suppress(TelegramError):
                await chat.send_message(
                    t.tn("{count} patron was told.", "{count} patrons were told.", reached)
                )

    application.create_task(run(), update=update)


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
    image = qrcode.make(url, box_size=10, border=4)
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


def form() -> ConversationHandler:  # type: ignore[type-arg]
    """The create/edit conversation."""
    text = filters.TEXT & ~filters.COMMAND
    return conversation(
        name="workshop_form",
        role="staff",
        keys=(DRAFT_KEY, EDITING_KEY),
        left_behind=N_("The workshop form you had open is closed: nothing of it was saved."),
        entry_points=[
            CommandHandler(names("new_workshop"), new_workshop),
            CallbackQueryHandler(edit_workshop, pattern=f"^{EDIT}"),
        ],
        states={
            TITLE: [MessageHandler(text, got_title)],
            LIBRARY: [
                CallbackQueryHandler(got_library, pattern=f"^{PICK_LIBRARY}"),
                CallbackQueryHandler(library_page, pattern=f"^{LIBRARY_PAGE}"),
            ],
            WHEN: [MessageHandler(text, got_when)],
            LENGTH: [
                CallbackQueryHandler(got_duration_button, pattern=f"^{DURATION}"),
                MessageHandler(text, got_duration_text),
            ],
            SEATS: [MessageHandler(text, got_capacity)],
            DESCRIPTION: [
                MessageHandler(text, got_description),
                CallbackQueryHandler(no_description, pattern=f"^{NO_DESCRIPTION}$"),
            ],
            MEDIA_TYPE: [CallbackQueryHandler(got_media, pattern=f"^{MEDIA}")],
            PREVIEW: [
                CallbackQueryHandler(save, pattern=f"^{SAVE}$"),
                CallbackQueryHandler(change_field, pattern=f"^{FIELD}"),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[
            CommandHandler(names("cancel"), give_up),
            CallbackQueryHandler(give_up, pattern=f"^{QUIT}$"),
            MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, wrong_input),
        ],
        conversation_timeout=TIMEOUT_SECONDS,
        allow_reentry=True,
    )


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        form(),
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
