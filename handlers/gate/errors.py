"""Last resort: log the failure with its update, apologise in the person's language."""

from __future__ import annotations

import contextlib
import logging

from telegram import Bot, Update
from telegram.error import Forbidden, TelegramError

from bot.context import PlumeContext
from bot.i18n import pick_locale, translator

log = logging.getLogger("plume.errors")


async def on_error(update: object, context: PlumeContext) -> None:
    # the update's id and kind only: never the person's name or what they wrote
    if isinstance(update, Update):
        kind = next((k for k in Update.ALL_TYPES if getattr(update, k, None)), "unknown")
        log.error(
            "handler failed for update %s (%s)", update.update_id, kind, exc_info=context.error
        )
    else:
        log.error(
            "handler failed outside an update (%s)", type(update).__name__, exc_info=context.error
        )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    settings = context.services.settings
    person = context.person
    user = update.effective_user
    language = (
        person.language
        if person
        else pick_locale(user.language_code if user else None, settings.default_locale)
    )
    t = translator(language, settings.timezone)
    if update.callback_query:
        with contextlib.suppress(TelegramError):  # it may have been answered already
            await update.callback_query.answer()
    try:
        await update.effective_chat.send_message(
            t("Sorry, something went wrong on my side. Please try again in a moment.")
        )
    except Forbidden:
        if user:
            await context.services.users.mark_unreachable(user.id)
    except TelegramError as error:
        log.warning("could not apologise in chat %s: %s", update.effective_chat.id, error)


#: updates already apologised for (a delivery retried during an outage: once is enough)
_APOLOGISED: dict[int, None] = {}
_APOLOGISED_KEPT = 10_000


async def apologise_unavailable(bot: Bot, update: Update, default_locale: str) -> None:
    """The database does not answer: the person who wrote is told, once per update, that
    the answer will come (the update is handled once the database is back)."""
    chat = update.effective_chat
    if chat is None or chat.type != "private" or update.update_id in _APOLOGISED:
        return
    _APOLOGISED[update.update_id] = None
    while len(_APOLOGISED) > _APOLOGISED_KEPT:
        del _APOLOGISED[next(iter(_APOLOGISED))]
    user = update.effective_user
    t = translator(pick_locale(user.language_code if user else None, default_locale))
    try:
        await bot.send_message(
            chat.id,
            t(
                "Sorry, I am having a technical problem right now. I have your message: "
                "I will answer it as soon as it is fixed."
            ),
        )
    except TelegramError as error:
        log.info("could not apologise in chat %s: %s", chat.id, error)
