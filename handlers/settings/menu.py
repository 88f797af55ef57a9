"""/settings: language and home library."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.config import SUPPORTED_LOCALES
from bot.context import PlumeContext, PlumeHandler
from bot.shared.callbacks import SETTINGS as SETTINGS
from handlers.shared.common import button, escape, keyboard, reply, show
from handlers.shared.menus import names, publish_menu_for
from handlers.start import library_keyboard
from handlers.subscriptions import MENU as SUBSCRIPTIONS_MENU

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


async def settings_text(context: PlumeContext) -> str:
    person = context.person
    assert person is not None
    t = context.t
    library = await context.services.libraries.get(person.library_id)
    return "\n".join(
        [
            t("<b>Your settings</b>"),
            t("Language: {language}", language=LANGUAGE_NAMES[person.language]),
            t("Library: {library}", library=escape(library.name) if library else t("not chosen")),
        ]
    )


def settings_keyboard(context: PlumeContext) -> InlineKeyboardMarkup:
    t = context.t
    return keyboard(
        [
            [button(t("🌐 Language"), f"{SETTINGS}lang")],
            [button(t("🏛 Library"), f"{SETTINGS}lib")],
            [button(t("🔔 Announcements"), SUBSCRIPTIONS_MENU)],
        ]
    )


async def settings(update: Update, context: PlumeContext) -> None:
    await reply(update, await settings_text(context), settings_keyboard(context))


async def settings_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    action = query.data.removeprefix(SETTINGS)
    t = context.t
    if action == "lang":
        await query.answer()
        await show(
            update,
            t("Choose your language:"),
            keyboard(
                [
                    [button(LANGUAGE_NAMES[code], f"{SETTINGS}lang:{code}")]
                    for code in SUPPORTED_LOCALES
                ]
            ),
        )
    elif action.startswith("lang:") and action[5:] in SUPPORTED_LOCALES:
        language = action[5:]
        await context.services.users.set_language(person.telegram_id, language)
        context.use_language(language)
        context.person = await context.services.users.get(person.telegram_id)
        await query.answer(context.t("Language changed."))
        await show(update, await settings_text(context), settings_keyboard(context))
        if context.person:
            await publish_menu_for(context.bot, context.person)
    elif action == "lib":
        await query.answer()
        await show(
            update, t("Which library are you a member of?"), await library_keyboard(context, 0)
        )
    else:
        await query.answer(t("This button is no longer valid."), show_alert=True)


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("settings"), settings),
        CallbackQueryHandler(settings_button, pattern=f"^{SETTINGS}"),
    ]
