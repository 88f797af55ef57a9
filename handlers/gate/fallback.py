"""What nobody else handled: unknown commands, stale or forged buttons, other messages."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext, PlumeHandler
from handlers.shared.common import reply
from handlers.shared.menus import names


async def nothing_to_cancel(update: Update, context: PlumeContext) -> None:
    """/annuler outside any flow (a flow's own /annuler comes first, in its conversation)."""
    await reply(update, context.t("There is nothing to cancel."))


async def unknown_command(update: Update, context: PlumeContext) -> None:
    await reply(update, context.t("I don't know this command. Type /help to see what I can do."))


async def unknown_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    # a button of an older message: its form was finished, cancelled or has expired
    await query.answer(
        context.t(
            "This button belongs to an older message and no longer works: what it was for "
            "is finished, cancelled or has expired. Type /help to start again."
        ),
        show_alert=True,
    )


async def other_message(update: Update, context: PlumeContext) -> None:
    await reply(
        update,
        context.t(
            "I can read text messages only. Write your question in a few words, or type /help."
        ),
    )


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("cancel"), nothing_to_cancel),
        MessageHandler(filters.COMMAND, unknown_command),
        CallbackQueryHandler(unknown_button),
        MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, other_message),
    ]
