"""Questions passed to the librarians (H: buttons), /questions, and the staff's replies."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext
from bot.handover import ANSWER_KIND, Handover, answer_ref
from bot.i18n import N_, translator
from bot.privacy.coverage import PERSON_REF
from bot.privacy.service import pseudonym
from handlers import teach
from handlers.common import button, conversation, escape, keyboard, reply, requires
from handlers.search import HANDOVER

log = logging.getLogger(__name__)

ANSWER = "Q:"  # Q:<question id>  a librarian answers
WRITING = 1
REPLY_TIMEOUT = 15 * 60


async def pass_on(update: Update, context: PlumeContext) -> None:
    """The patron chose to pass their question on."""
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    raw = query.data.removeprefix(HANDOVER)
    handover = await context.services.handover.submit(person, int(raw)) if raw.isdigit() else None
    if handover is None:
        await query.answer(t("This question was already passed on."), show_alert=True)
        return
    await query.answer()
    staff = await context.services.users.staff_for(handover.library_id)
    library = await context.services.libraries.get(handover.library_id)
    notified = 0
    for member in staff:
        st = translator(member.language, context.services.settings.timezone)
        text = st(
            N_("❓ <b>Question from {name}</b> ({library}):\n\n{question}"),
            name=handover.patron_pseudonym,  # staff views are pseudonymous
            library=escape(library.name) if library else st(N_("no library chosen")),
            question=escape(handover.text),
        )
        await context.services.outbox.notify(
            "handover",
            member.telegram_id,
            text,
            reply_markup=keyboard(
                [
                    [button(st(N_("✍️ Answer")), f"{ANSWER}{handover.id}")],
                    [teach.handover_button(st, handover.id)],
                ]
            ).to_dict(),
            ref=f"{PERSON_REF}{handover.patron_id}",  # about the patron: erased with them
        )
        notified += 1
        await context.services.privacy.audit(
            "handover shown",
            actor=pseudonym(member.id),
            actor_id=member.id,
            subjects=[handover.patron_pseudonym],
            detail=f"question {handover.id}",
        )
    if notified:
        await reply(
            update,
            t(
                "Done: your question was passed on to the librarians. "
                "Their answer will arrive here."
            ),
        )
    elif library:
        await reply(
            update,
            t(
                "Your question is saved, but no librarian is on Plume right now. You can also "
                "reach {library}: {phone} {email}",
                library=escape(library.name),
                phone=escape(library.phone),
                email=escape(library.email),
            ),
        )
    else:
        await reply(update, t("Your question is saved; a librarian will answer it here."))


@requires("staff")
async def questions(update: Update, context: PlumeContext) -> None:
    person = context.person
    assert person is not None
    t = context.t
    pending = await context.services.handover.pending_for(person)
    if not pending:
        await reply(update, t("No question is waiting for an answer."))
        return
    await reply(update, t("<b>Questions waiting for an answer</b>"))
    await context.services.privacy.audit(
        "handover list",
        actor=pseudonym(person.id),
        actor_id=person.id,
        subjects=sorted({h.patron_pseudonym for h in pending}),
        detail=", ".join(f"question {h.id}" for h in pending)[:200],
    )
    for handover in pending:
        await reply(
            update,
            question_text(context, handover),
            keyboard(
                [
                    [button(t("✍️ Answer"), f"{ANSWER}{handover.id}")],
                    [teach.handover_button(t, handover.id)],
                ]
            ),
        )


def question_text(context: PlumeContext, handover: Handover) -> str:
    t = context.t
    return t(
        "❓ {name}, {when}:\n{question}",
        name=handover.patron_pseudonym,
        when=t.short_datetime(handover.created_at),
        question=escape(handover.text),
    )


@requires("staff")
async def start_answer(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query and query.data
    t = context.t
    raw = query.data.removeprefix(ANSWER)
    handover = await context.services.handover.get(int(raw)) if raw.isdigit() else None
    if handover is None or handover.state != "pending":
        await query.answer(t("This question was already answered."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    staff = context.person
    assert context.user_data is not None and staff is not None
    await context.services.privacy.audit(
        "handover answer",
        actor=pseudonym(staff.id),
        actor_id=staff.id,
        subjects=[handover.patron_pseudonym],
        detail=f"question {handover.id}",
    )
    context.user_data["answering"] = handover.id
    await reply(
        update,
        t(
            "Write your answer to: “{question}” (or /cancel).",
            question=escape(handover.text[:300]),
        ),
    )
    return WRITING


async def send_answer(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    staff = context.person
    assert message and message.text and staff and context.user_data is not None
    t = context.t
    question_id = context.user_data.pop("answering", None)
    handover = (
        await context.services.handover.reply(staff, question_id, message.text)
        if question_id
        else None
    )
    if handover is None:
        await reply(update, t("This question was already answered."))
        return ConversationHandler.END
    pt = translator(handover.patron_language, context.services.settings.timezone)
    text = pt(
        N_("💬 <b>Answer from the library</b> to your question “{question}”:\n\n{answer}"),
        question=escape(handover.text[:300]),
        answer=message.text_html,
    )
    patron = await context.services.users.get(handover.patron_telegram_id)
    if patron is not None and not patron.reachable:
        await reply(update, t("The patron has blocked Plume: the answer could not be delivered."))
        return ConversationHandler.END
    await context.services.outbox.notify(
        ANSWER_KIND, handover.patron_telegram_id, text, ref=answer_ref(staff)
    )
    await reply(update, t("Answer sent."))
    return ConversationHandler.END


async def cancel(update: Update, context: PlumeContext) -> int:
    if context.user_data is not None:
        context.user_data.pop("answering", None)
    await reply(update, context.t("Cancelled."))
    return ConversationHandler.END


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CallbackQueryHandler(pass_on, pattern=f"^{HANDOVER}"),
        CommandHandler("questions", questions),
        conversation(
            name="handover_reply",
            entry_points=[CallbackQueryHandler(start_answer, pattern=f"^{ANSWER}")],
            states={WRITING: [MessageHandler(filters.TEXT & ~filters.COMMAND, send_answer)]},
            fallbacks=[CommandHandler(["cancel", "annuler"], cancel)],
            conversation_timeout=REPLY_TIMEOUT,
            allow_reentry=True,
        ),
    ]
