"""Before any handler: Plume talks in private chats only, and only to buttons it made.

``guard`` runs first for every update (``GUARD_GROUP``, before every other group):

* in a group, a supergroup or a channel, Plume answers ``/start`` with a link to a private
  chat (at most once per chat every ``GROUP_START_INTERVAL`` seconds, so a busy group is not
  flooded) and otherwise stays silent, creating nobody;
* a button press whose data the registry (``bot.shared.callbacks``) rejects, or that names a
  document that no longer exists, gets "This button is no longer valid." and nothing else.
"""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import pick_locale, translator
from bot.shared import callbacks
from bot.shared.documents import document_exists

log = logging.getLogger(__name__)

#: before every other handler group (PTB runs groups in ascending order)
GUARD_GROUP = -100
GROUP_START_INTERVAL = 600.0
GROUP_START_KEY = "plume.group_start_answered"
#: the /start payload of the link given in groups (a plain greeting in the private chat)
GROUP_START_PAYLOAD = "group"


def is_private(update: Update) -> bool:
    """A private chat, or no chat at all (an inline button's query: checked as any other)."""
    chat = update.effective_chat
    return chat is None or chat.type == ChatType.PRIVATE


def _is_start_command(update: Update, bot_username: str) -> bool:
    message = update.effective_message
    if message is None or not message.text or not message.entities:
        return False
    first = message.entities[0]
    if first.type != MessageEntityType.BOT_COMMAND or first.offset != 0:
        return False
    command, _, mention = message.text[1 : first.length].partition("@")
    return command.lower() == "start" and mention.lower() in ("", bot_username.lower())


async def _outside_private_chat(update: Update, context: PlumeContext) -> None:
    if update.callback_query is not None:  # a button in a group: Plume never puts one there
        await _invalid_button(update, context, "outside a private chat")
        return
    chat = update.effective_chat
    bot_username = context.bot.username
    if chat is None or not _is_start_command(update, bot_username):
        return
    chat_data = context.chat_data if context.chat_data is not None else {}
    now = time.monotonic()
    if now - chat_data.get(GROUP_START_KEY, -GROUP_START_INTERVAL) < GROUP_START_INTERVAL:
        return
    chat_data[GROUP_START_KEY] = now
    user = update.effective_user
    settings = context.services.settings
    language = pick_locale(
        user.language_code if user and not user.is_bot else None, settings.default_locale
    )
    t = translator(language, settings.timezone)
    link = f"https://t.me/{bot_username}?start={GROUP_START_PAYLOAD}"
    await chat.send_message(
        t(
            "I only talk in private chats, to keep your questions to yourself. Write to me "
            "here: {link}",
            link=link,
        ),
        disable_web_page_preview=True,
    )


async def _invalid_button(update: Update, context: PlumeContext, why: str) -> None:
    query = update.callback_query
    assert query is not None
    log.info("button refused (%s)", why)
    await query.answer(context.t("This button is no longer valid."), show_alert=True)


async def guard(update: Update, context: PlumeContext) -> None:
    if not is_private(update):
        await _outside_private_chat(update, context)
        raise ApplicationHandlerStop
    query = update.callback_query
    if query is None:
        return
    try:
        parsed = callbacks.parse(query.data)
    except callbacks.InvalidCallback as error:
        await _invalid_button(update, context, str(error))
        raise ApplicationHandlerStop from None
    if parsed.route.subject:
        code, doc_id = parsed.fields[0], parsed.fields[1]
        if not await document_exists(context.services.sessions, code, doc_id):
            await _invalid_button(update, context, f"no document {code}:{doc_id}")
            raise ApplicationHandlerStop


def handlers() -> list[PlumeHandler]:
    return [TypeHandler(Update, guard)]
