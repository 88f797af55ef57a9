"""Small helpers shared by the handlers: role checks, replies, keyboards."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Coroutine, Sequence
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ConversationHandler
from telegram.warnings import PTBUserWarning

from bot.context import PlumeContext
from bot.i18n import N_

Handler = Callable[[Update, PlumeContext], Coroutine[Any, Any, Any]]

ROLE_NAMES = {
    "patron": N_("patron"),
    "staff": N_("library staff"),
    "coordinator": N_("coordinator"),
    "admin": N_("administrator"),
}

__all__ = ["button", "escape", "keyboard", "reply", "requires"]


def requires(minimum: str) -> Callable[[Handler], Handler]:
    """Only people with at least ``minimum`` role get through; others get a polite refusal."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: PlumeContext) -> Any:
            person = context.person
            if person is None or not person.has_role(minimum):
                t = context.t
                text = t(
                    "Sorry, this is reserved to the {role} role. Type /help to see what I "
                    "can do for you.",
                    role=t(ROLE_NAMES[minimum]),
                )
                if update.callback_query:
                    await update.callback_query.answer(text, show_alert=True)
                else:
                    await reply(update, text)
                return None
            return await handler(update, context)

        return guarded

    return decorator


def conversation(*, name: str, **kwargs: Any) -> ConversationHandler:  # type: ignore[type-arg]
    """A ConversationHandler whose entry may be a button: PTB's per_message warning is moot
    here (one conversation per person, whatever message the button is on).

    Persistent under ``name`` (stable: it is the key in the database): the person's place in
    it survives a restart and continues on another instance (:mod:`bot.persistence`)."""
    kwargs.setdefault("persistent", True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(name=name, **kwargs)


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(row) for row in rows if row])


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the chat of the update (HTML by default; callers escape what they insert)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, reply_markup=markup)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the message of a pressed button in place, or send a new one.

    A button pressed twice asks for the same content again: Telegram refuses that edit
    ("message is not modified"), and there is nothing to do.
    """
    query = update.callback_query
    if query and query.message:
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as error:
            if "not modified" not in error.message:
                raise
    else:
        await reply(update, text, markup)
