"""A coordinator writes to a patron who agreed to be contacted, and the patron answers,
both through Plume (``PC:<remark id>`` for staff, ``PR:<thread id>`` for the patron): no
Telegram id or name is shown to either side (see :mod:`bot.privacy.contact`)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import N_, translator
from bot.shared.callbacks import CONTACT_ANSWER as ANSWER
from bot.shared.callbacks import CONTACT_WRITE as WRITE
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires
from handlers.shared.menus import names

WRITING = 1
ANSWERING = 2
TIMEOUT = 15 * 60
STAFF_KEY = "contact_thread"
PATRON_KEY = "contact_answer"


def write_button(t: Any, feedback_id: int, who: str) -> Any:
    return button(t("✉ Write to {who}", who=who), f"{WRITE}{feedback_id}")


@requires("coordinator")
async def start_writing(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    staff = context.person
    assert query and query.data and staff and context.user_data is not None
    t = context.t
    thread = await context.services.contact.open(staff.id, int(query.data.removeprefix(WRITE)))
    if thread is None:
        await query.answer(t("This patron can no longer be contacted."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    context.user_data[STAFF_KEY] = thread.id
    await reply(
        update,
        t(
            "Write your message to {who} about the remark “{remark}” (or /cancel). Plume "
            "delivers it as coming from the library; neither of you sees the other's "
            "Telegram account.",
            who=thread.patron_pseudonym,
            remark=escape(thread.remark[:200]),
        ),
    )
    return WRITING


async def send_to_patron(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    staff = context.person
    assert message and message.text and staff and context.user_data is not None
    t = context.t
    thread_id = context.user_data.pop(STAFF_KEY, None)
    tz = context.services.settings.timezone

    def render(language: str, remark: str, text_html: str, thread: int) -> tuple[str, Any]:
        pt = translator(language, tz)
        text = pt(
            N_("✉ <b>Message from the library</b> about your remark “{remark}”:\n\n{message}"),
            remark=escape(remark[:200]),
            message=text_html,
        )
        return text, keyboard([[button(pt(N_("↩ Answer")), f"{ANSWER}{thread}")]]).to_dict()

    who = (
        await context.services.contact.to_patron(thread_id, staff.id, message.text_html, render)
        if thread_id
        else None
    )
    if who is None:
        await reply(update, t("This patron can no longer be contacted."))
        return ConversationHandler.END
    context.services.outbox.wake()
    await reply(update, t("Message sent to {who}; their answer will come here.", who=who))
    return ConversationHandler.END


async def start_answer(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data and context.user_data is not None
    await query.answer()
    context.user_data[PATRON_KEY] = int(query.data.removeprefix(ANSWER))
    await reply(update, context.t("Write your answer to the library (or /cancel)."))
    return ANSWERING


async def send_to_staff(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    person = context.person
    assert message and message.text and person and context.user_data is not None
    t = context.t
    thread_id = context.user_data.pop(PATRON_KEY, None)
    tz = context.services.settings.timezone

    def render(language: str, who: str, text: str, feedback_id: int | None) -> tuple[str, Any]:
        st = translator(language, tz)
        body = st(
            N_("✉ <b>Answer from {who}</b> about their remark:\n\n{message}"),
            who=who,
            message=escape(text),
        )
        rows = [[write_button(st, feedback_id, who)]] if feedback_id else []
        return body, keyboard(rows).to_dict()

    sent = (
        await context.services.contact.to_staff(thread_id, person.id, message.text, render)
        if thread_id
        else False
    )
    if not sent:
        await reply(update, t("This conversation is over."))
        return ConversationHandler.END
    context.services.outbox.wake()
    await reply(update, t("Sent to the library, thank you."))
    return ConversationHandler.END


async def cancel(update: Update, context: PlumeContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(STAFF_KEY, None)
        context.user_data.pop(PATRON_KEY, None)
    await reply(update, context.t("Cancelled."))
    return ConversationHandler.END


def handlers() -> list[PlumeHandler]:
    text = filters.TEXT & ~filters.COMMAND
    fallbacks = [CommandHandler(names("cancel"), cancel)]
    return [
        conversation(
            name="privacy_contact_staff",
            role="coordinator",
            keys=(STAFF_KEY,),
            left_behind=N_("Your message to the patron was not sent."),
            entry_points=[CallbackQueryHandler(start_writing, pattern=f"^{WRITE}")],
            states={WRITING: [MessageHandler(text, send_to_patron)]},
            fallbacks=fallbacks,
            conversation_timeout=TIMEOUT,
            allow_reentry=True,
        ),
        conversation(
            name="privacy_contact_patron",
            keys=(PATRON_KEY,),
            left_behind=N_("Your answer to the library was not sent."),
            entry_points=[CallbackQueryHandler(start_answer, pattern=f"^{ANSWER}")],
            states={ANSWERING: [MessageHandler(text, send_to_staff)]},
            fallbacks=fallbacks,
            conversation_timeout=TIMEOUT,
            allow_reentry=True,
        ),
    ]
