"""/start, the home-library choice, /help and /whoami."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import Translator
from bot.shared.callbacks import LIBRARY_PAGE as LIBRARY_PAGE
from bot.shared.callbacks import LIBRARY_PICK as LIBRARY_PICK
from bot.shared.labels import ROLE_NAMES
from handlers.privacy import notice_keyboard, short_notice
from handlers.shared.common import escape, keyboard, reply, show
from handlers.shared.menus import commands_for, names
from handlers.shared.pickers import library_picker
from handlers.subscriptions import ask_subscriptions
from handlers.workshops import DEEP_LINK_PREFIX, show_workshop


async def library_keyboard(context: PlumeContext, page: int) -> InlineKeyboardMarkup:
    rows = await library_picker(
        context, page, lambda id_: f"{LIBRARY_PICK}{id_}", lambda p: f"{LIBRARY_PAGE}{p}"
    )
    return keyboard(rows)


async def start(update: Update, context: PlumeContext) -> None:
    person = context.person
    assert person is not None
    payload = context.args[0] if context.args else ""
    if payload.startswith(DEEP_LINK_PREFIX):  # a workshop poster's link or QR code
        await show_workshop(update, context, payload.removeprefix(DEEP_LINK_PREFIX))
        return
    t = context.t
    name = escape(person.first_name or t("there"))  # apart: Babel skips a nested t(...)
    greeting = t(
        "Hello {name}! I am Plume, the assistant of the digital library: e-books, "
        "audiobooks, press, films, music, courses and video games, free for members of "
        "the network's libraries.",
        name=name,
    )
    if person.onboarded:
        await reply(update, greeting)
    else:  # a new patron: who processes their data, why, their rights, with the greeting
        await reply(
            update,
            greeting + "\n\n" + short_notice(t, context.services.settings),
            notice_keyboard(t),
        )
    await ask_library(update, context)


async def ask_library(update: Update, context: PlumeContext) -> None:
    t = context.t
    markup = await library_keyboard(context, 0)
    if not markup.inline_keyboard:
        await reply(update, t("No library is set up yet. Ask your library to import the network."))
        return
    await reply(update, t("Which library are you a member of?"), markup)


async def library_page(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query and query.data
    page = query.data.removeprefix(LIBRARY_PAGE)
    await query.answer()
    if not page.isdigit():
        return
    await show(
        update,
        context.t("Which library are you a member of?"),
        await library_keyboard(context, int(page)),
    )


async def library_pick(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    first_time = not person.onboarded
    library = await context.services.users.set_library(
        person.telegram_id, query.data.removeprefix(LIBRARY_PICK)
    )
    if library is None:
        await query.answer(
            t("This library no longer exists, please choose again."), show_alert=True
        )
        return
    await query.answer()
    text = t("Noted: your library is {library}.", library=f"<b>{escape(library.name)}</b>")
    await show(update, text)
    if first_time:
        await reply(update, help_text(t, person.role))
        await ask_subscriptions(update, context)  # asked once; /settings changes it


def help_text(t: Translator, role: str) -> str:
    """What Plume does, then the commands this person's menu holds."""
    lines = [
        t("<b>What I can do</b>"),
        t(
            "Answer your questions: just write, e.g. “forgot my password”, “do you have "
            "comics?”, “film Intouchables”."
        ),
        "",
    ]
    lines += [f"/{c.command} — {escape(c.description)}" for c in commands_for(role, t.locale)]
    return "\n".join(lines)


async def help_command(update: Update, context: PlumeContext) -> None:
    person = context.person
    await reply(update, help_text(context.t, person.role if person else "patron"))


async def whoami(update: Update, context: PlumeContext) -> None:
    person = context.person
    assert person is not None
    t = context.t
    library = await context.services.libraries.get(person.library_id)
    lines = [
        t("Your Telegram id: <code>{id}</code>", id=person.telegram_id),
        t("Role: {role}", role=t(ROLE_NAMES[person.role])),
        t("Library: {library}", library=escape(library.name) if library else t("not chosen")),
    ]
    await reply(update, "\n".join(lines))


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("start"), start),
        CommandHandler(names("help"), help_command),
        CommandHandler(names("whoami"), whoami),
        CallbackQueryHandler(library_page, pattern=f"^{LIBRARY_PAGE}"),
        CallbackQueryHandler(library_pick, pattern=f"^{LIBRARY_PICK}"),
    ]
