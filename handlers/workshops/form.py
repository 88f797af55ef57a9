"""The staff's workshop form (/nouvel_atelier, and Edit on a workshop's card): a guided
conversation asking title, library, date and time, duration, seats, description and media
type, then a preview (any field can be changed there) before saving. Each answer is checked
by :mod:`bot.workshops.fields`, the rules the service applies too.

Callback data ``Wb:`` + ``L`` library, ``P`` library page, ``d`` duration, ``n`` no
description, ``M`` media type, ``F`` change a field, ``S`` save, ``X`` give up."""

from __future__ import annotations

import contextlib
from typing import Final

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import PlumeContext, PlumeConversation
from bot.i18n import N_, Translator
from bot.reporting.formats import number
from bot.shared.callbacks import FORM_DURATION as DURATION
from bot.shared.callbacks import FORM_FIELD as FIELD
from bot.shared.callbacks import FORM_LIBRARY as PICK_LIBRARY
from bot.shared.callbacks import FORM_LIBRARY_PAGE as LIBRARY_PAGE
from bot.shared.callbacks import FORM_MEDIA as MEDIA
from bot.shared.callbacks import FORM_NO_DESCRIPTION as NO_DESCRIPTION
from bot.shared.callbacks import FORM_QUIT as QUIT
from bot.shared.callbacks import FORM_SAVE as SAVE
from bot.shared.callbacks import MANAGE_EDIT as EDIT
from bot.shared.labels import MEDIA_THEMES
from bot.shared.when import WhenError, describe, duration_text, parse_duration, parse_moment
from bot.workshops.fields import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    DESCRIPTION_MAX,
    DURATION_MAX,
    DURATION_MIN,
    TITLE_MAX,
    TITLE_MIN,
    WorkshopError,
    check_duration,
    check_media_type,
    clean_capacity,
    clean_description,
    clean_title,
)
from bot.workshops.service import (
    Draft,
    WorkshopView,
    manages,
)
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires, show
from handlers.shared.menus import names
from handlers.shared.pickers import library_rows
from handlers.workshops.manage import NO_LIBRARY, _may_manage, say_told, send_card
from handlers.workshops.patron import (
    Notices,
    place_text,
    promoted_told,
    promotion_notice,
    when_text,
)
from storage.models import MEDIA_TYPES, utcnow

DRAFT_KEY: Final = "workshop_draft"
EDITING_KEY: Final = "workshop_editing"
TIMEOUT_SECONDS: Final = 30 * 60
LIBRARY_PAGE_SIZE: Final = 8

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
    try:
        title = clean_title(message.text)
    except WorkshopError:
        await reply(
            update,
            context.t(
                "Please give a title of {least} to {most} characters.",
                least=TITLE_MIN,
                most=TITLE_MAX,
            ),
        )
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
    try:
        check_duration(int(raw) if raw.isdigit() else None)
    except WorkshopError:
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
    try:
        check_duration(minutes)
    except WorkshopError:
        await reply(
            update,
            context.t(
                "Please write a duration between {least} and {most}, e.g. 1h30.",
                least=duration_text(context.t, DURATION_MIN),
                most=duration_text(context.t, DURATION_MAX),
            ),
        )
        return LENGTH
    return await _next(update, context, _draft(context).with_(duration_min=minutes))


async def got_capacity(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    try:
        capacity = clean_capacity(message.text)
    except WorkshopError:
        await reply(
            update,
            context.t(
                "Please write a number of seats between {least} and {most}.",
                least=CAPACITY_MIN,
                most=CAPACITY_MAX,
            ),
        )
        return SEATS
    return await _next(update, context, _draft(context).with_(capacity=capacity))


async def got_description(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message and message.text
    try:
        text = clean_description(message.text) or ""
    except WorkshopError:
        await reply(
            update,
            context.t(
                "Please keep the description under {most} characters.",
                most=number(context.t.locale, DESCRIPTION_MAX),
            ),
        )
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
    try:
        check_media_type(None if raw == "-" else raw)
    except WorkshopError:
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
    moved, promoted = False, []
    told_promoted = Notices(context.plume, promotion_notice, "promotion")
    told_moved = Notices(context.plume, moved_notice, "workshop_notice")
    try:
        if workshop_id is None:
            view = await service.create(draft)
        else:
            updated = await service.update(
                workshop_id, draft, tell_promoted=told_promoted, tell_moved=told_moved
            )
            if updated is None:
                await query.answer(t("This workshop can no longer be changed."), show_alert=True)
                _forget(context)
                return ConversationHandler.END
            view = updated.view
            moved = updated.moved
            promoted = updated.promoted
    except WorkshopError:
        await query.answer(t("Something is missing or wrong: please check the fields."))
        return PREVIEW
    await query.answer(t("Saved."))
    _forget(context)
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    if workshop_id is not None:
        await promoted_told(context.plume, view, promoted)
        if moved:
            await say_told(update, context, told_moved)
    await reply(update, t("✅ Workshop saved."))
    await send_card(update, context, view, edit=False)
    return ConversationHandler.END


def moved_notice(t: Translator, view: WorkshopView) -> tuple[str, InlineKeyboardMarkup | None]:
    """What the people registered or waiting read when a workshop's time or place changes."""
    text = t(
        "🕒 The workshop “{title}” has changed: it is now on {when}.\n📍 {place}\n\n"
        "If you can no longer come, unregister with /ateliers.",
        title=escape(view.title),
        when=when_text(t, view.starts_at, view.duration_min),
        place=place_text(view.library_name, view.library_address, view.library_commune),
    )
    return text, None


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


def form() -> PlumeConversation:
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
