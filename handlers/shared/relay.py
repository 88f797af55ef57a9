"""One message handed on through Plume: a button asks for it, the person's next text is
delivered (through the outbox) to somebody whose Telegram account they never see.

The shape of the librarians' answers to handed-over questions and the patrons' replies
(:mod:`handlers.handover.threads`), and of a coordinator writing to a patron about a remark
and the patron's answer (:mod:`handlers.privacy.contact`): each gives what differs —
who may press the button, what it opens, what the message becomes — and :func:`relay`
builds the conversation around it (the id kept in ``user_data``, /cancel, the timeout,
persistence, the role checked at each step)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext, PlumeConversation
from handlers.shared.common import conversation, reply, requires
from handlers.shared.menus import names

WRITING = 1
#: how long a relay waits for the message before it gives up
TIMEOUT = 15 * 60

#: given the id after the button's prefix: what the message is for (kept until it comes)
#: and the prompt to show, or None when it cannot be written (the opener has said why)
Opener = Callable[[Update, PlumeContext, int], Awaitable[tuple[int, str] | None]]
#: the message and what it is for (None when that was lost: restart, timeout); it replies
Deliverer = Callable[[Update, PlumeContext, int | None, Message], Awaitable[None]]
#: /cancel before the message, given what it was for: what to say instead of "Cancelled."
Canceller = Callable[[Update, PlumeContext, int], Awaitable[str]]


@dataclass(frozen=True)
class Relay:
    #: the conversation's name (its key in the persisted state: keep it stable)
    name: str
    #: the button's callback prefix (from :mod:`bot.shared.callbacks`), an id after it
    prefix: str
    #: the ``user_data`` key that holds what the message is for
    key: str
    #: said (N_-marked) when the person starts another flow before writing
    left_behind: str
    opened: Opener
    deliver: Deliverer
    #: who may press the button and write
    role: str = "patron"
    #: the state number persisted while the message is awaited (keep it stable)
    state: int = WRITING
    #: what /cancel undoes of the opening, if anything
    cancelled: Canceller | None = None


def relay(spec: Relay) -> PlumeConversation:
    """The conversation: button → prompt → the next text message is delivered."""

    async def begin(update: Update, context: PlumeContext) -> int:
        query = update.callback_query
        assert query and query.data and context.user_data is not None
        raw = query.data.removeprefix(spec.prefix)
        if not raw.isdigit():
            await query.answer(context.t("This button is no longer valid."), show_alert=True)
            return ConversationHandler.END
        opened = await spec.opened(update, context, int(raw))
        if opened is None:
            return ConversationHandler.END
        kept, prompt = opened
        await query.answer()
        context.user_data[spec.key] = kept
        await reply(update, prompt)
        return spec.state

    async def written(update: Update, context: PlumeContext) -> int:
        message = update.effective_message
        assert message and message.text and context.user_data is not None
        await spec.deliver(update, context, context.user_data.pop(spec.key, None), message)
        return ConversationHandler.END

    async def cancel(update: Update, context: PlumeContext) -> int:
        kept = context.user_data.pop(spec.key, None) if context.user_data is not None else None
        text = context.t("Cancelled.")
        if spec.cancelled is not None and kept is not None:
            text = await spec.cancelled(update, context, kept)
        await reply(update, text)
        return ConversationHandler.END

    entry = begin if spec.role == "patron" else requires(spec.role)(begin)
    return conversation(
        name=spec.name,
        role=spec.role,
        keys=(spec.key,),
        left_behind=spec.left_behind,
        entry_points=[CallbackQueryHandler(entry, pattern=f"^{spec.prefix}")],
        states={spec.state: [MessageHandler(filters.TEXT & ~filters.COMMAND, written)]},
        fallbacks=[CommandHandler(names("cancel"), cancel)],
        conversation_timeout=TIMEOUT,
        allow_reentry=True,
    )
