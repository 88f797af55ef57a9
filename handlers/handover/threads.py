"""Questions passed to the librarians (H: buttons), /questions, and the threads that follow:
a librarian takes a question (Q:), writes; the patron answers (Qp:); the librarian closes
the thread (Qc:). Nobody sees anybody's Telegram id: only first names and libraries."""

from __future__ import annotations

import html
import logging
import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import PlumeContext, PlumeHandler
from bot.handover.service import ANSWER_KIND, Handover, Taking, answer_ref
from bot.i18n import N_, Translator, translator
from bot.privacy.coverage import PERSON_REF
from bot.privacy.service import pseudonym
from bot.shared.callbacks import HANDOVER_ANSWER as ANSWER
from bot.shared.callbacks import HANDOVER_CLOSE as CLOSE
from bot.shared.callbacks import HANDOVER_REPLY as PATRON_REPLY
from handlers import teach
from handlers.answering import HANDOVER
from handlers.shared.common import button, escape, keyboard, reply, requires
from handlers.shared.menus import names
from handlers.shared.relay import Relay, relay

log = logging.getLogger(__name__)

Opened = tuple[int, str] | None


def _translator(context: PlumeContext, language: str | None) -> Translator:
    settings = context.services.settings
    return translator(language or settings.default_locale, settings.timezone)


async def _send(
    context: PlumeContext,
    telegram_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    kind: str = "handover",
    ref: str | None = None,
) -> bool:
    """A message to another person, through the outbox (it retries, records the
    unreachable); False when that person is known to have blocked Plume."""
    person = await context.services.users.get(telegram_id)
    if person is not None and not person.reachable:
        return False
    await context.services.outbox.notify(
        kind, telegram_id, text, reply_markup=markup.to_dict() if markup else None, ref=ref
    )
    return True


_TAG_RE = re.compile(r"<[^>]*>")


def visible_length(text_html: str) -> int:
    """How long Telegram counts a message of our HTML: its text without tags, entities read."""
    return len(html.unescape(_TAG_RE.sub("", text_html)).encode("utf-16-le")) // 2


def _quoted(header: str, body: str) -> list[str]:
    """``header`` and someone's ``body`` (HTML) in one message, or in two when together they
    are longer than Telegram takes (a long answer to a long question): one message refused
    as too long would leave the patron with nothing."""
    whole = f"{header}\n\n{body}"
    fits = visible_length(whole) <= MessageLimit.MAX_TEXT_LENGTH  # 4096 UTF-16 units
    return [whole] if fits else [header, body]


async def _send_quoted(
    context: PlumeContext,
    telegram_id: int,
    header: str,
    body: str,
    markup: InlineKeyboardMarkup | None,
    **options: str,
) -> bool:
    """``_quoted``'s messages through the outbox, in order, the buttons on the last."""
    *first, last = _quoted(header, body)
    for text in first:
        if not await _send(context, telegram_id, text, None, **options):
            return False
    return await _send(context, telegram_id, last, markup, **options)


def _staff_buttons(t: Translator, handover: Handover) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [button(t(N_("✍️ Answer")), f"{ANSWER}{handover.id}")],
            [teach.handover_button(t, handover.id)],
        ]
    )


def _thread_buttons(t: Translator, handover: Handover) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [button(t(N_("✍️ Answer")), f"{ANSWER}{handover.id}")],
            [button(t(N_("✅ Close the conversation")), f"{CLOSE}{handover.id}")],
        ]
    )


def _answering_library(t: Translator, handover: Handover, *, html: bool = True) -> str:
    """The library of the librarian who took the question (HTML-escaped, unless for an
    alert, which is plain text)."""
    if not handover.taker_library:
        return t(N_("network team"))
    return escape(handover.taker_library) if html else handover.taker_library


async def pass_on(update: Update, context: PlumeContext) -> None:
    """The patron chose to pass their question on."""
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    raw = query.data.removeprefix(HANDOVER)
    submitted = await context.services.handover.submit(person, int(raw)) if raw.isdigit() else None
    if submitted is None:
        await query.answer(t("This question was already passed on."), show_alert=True)
        return
    await query.answer()
    handover = submitted.handover
    library = await context.services.libraries.get(handover.library_id)
    notified = 0
    for member in submitted.staff:
        st = _translator(context, member.language)
        where = escape(library.name) if library else st(N_("no library chosen"))
        if handover.network_wide:
            text = st(
                N_(
                    "❓ <b>Question from {name}</b> ({library}) — 🌐 for the whole network, "
                    "the first to take it answers:\n\n{question}"
                ),
                name=handover.patron_pseudonym,  # staff views are pseudonymous
                library=where,
                question=escape(handover.text),
            )
        else:
            text = st(
                N_("❓ <b>Question from {name}</b> ({library}):\n\n{question}"),
                name=handover.patron_pseudonym,  # staff views are pseudonymous
                library=where,
                question=escape(handover.text),
            )
        if await _send(
            context,
            member.telegram_id,
            text,
            _staff_buttons(st, handover),
            ref=f"{PERSON_REF}{handover.patron_id}",  # about the patron: erased with them
        ):
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
    service = context.services.handover
    pending = await service.pending_for(person)
    threads = await service.threads_of(person)
    if not pending and not threads:
        await reply(update, t("No question is waiting for an answer."))
        return
    if pending or threads:
        await context.services.privacy.audit(
            "handover list",
            actor=pseudonym(person.id),
            actor_id=person.id,
            subjects=sorted({h.patron_pseudonym for h in [*pending, *threads]}),
            detail=", ".join(f"question {h.id}" for h in [*pending, *threads])[:200],
        )
    if pending:
        await reply(update, t("<b>Questions waiting for an answer</b>"))
        for handover in pending:
            await reply(update, question_text(context, handover), _staff_buttons(t, handover))
    if threads:
        await reply(update, t("<b>Your conversations in progress</b>"))
        for handover in threads:
            await reply(update, question_text(context, handover), _thread_buttons(t, handover))


def question_text(context: PlumeContext, handover: Handover) -> str:
    t = context.t
    if handover.network_wide:
        return t(
            "❓ {name}, {when} — 🌐 whole network:\n{question}",
            name=handover.patron_pseudonym,
            when=t.short_datetime(handover.created_at),
            question=escape(handover.text),
        )
    return t(
        "❓ {name}, {when}:\n{question}",
        name=handover.patron_pseudonym,
        when=t.short_datetime(handover.created_at),
        question=escape(handover.text),
    )


async def open_answer(update: Update, context: PlumeContext, question_id: int) -> Opened:
    query = update.callback_query
    staff = context.person
    assert query and staff
    t = context.t
    took = await context.services.handover.take(staff, question_id)
    handover = took.handover
    if took.outcome is Taking.TAKEN_BY_ANOTHER and handover is not None:
        await query.answer(
            t(
                "Another librarian ({library}) has taken this question.",
                library=_answering_library(t, handover, html=False),
            ),
            show_alert=True,
        )
        return None
    if took.outcome is Taking.CLOSED:
        await query.answer(t("This conversation is closed."), show_alert=True)
        return None
    if handover is None:  # erased with the person who asked it, or never one
        await query.answer(
            t("This question no longer exists: the person may have erased their data."),
            show_alert=True,
        )
        return None
    if took.outcome is Taking.UNKNOWN:
        await query.answer(t("This question was already answered."), show_alert=True)
        return None
    await context.services.privacy.audit(
        "handover answer",
        actor=pseudonym(staff.id),
        actor_id=staff.id,
        subjects=[handover.patron_pseudonym],
        detail=f"question {handover.id}",
    )
    prompt = t(
        "Write your answer to: “{question}” (or /cancel).",
        question=escape(handover.text[:300]),
    )
    return handover.id, prompt


async def send_answer(
    update: Update, context: PlumeContext, question_id: int | None, message: Message
) -> None:
    staff = context.person
    assert message.text and staff
    t = context.t
    handover = (
        await context.services.handover.reply(staff, question_id, message.text)
        if question_id
        else None
    )
    if handover is None:
        await reply(update, t("This conversation is closed: the answer was not sent."))
        return
    pt = _translator(context, handover.patron_language)
    header = pt(
        N_("💬 <b>Answer from the library</b> ({library}) to your question “{question}”:"),
        library=_answering_library(pt, handover),
        question=escape(handover.text[:300]),
    )
    markup = keyboard([[button(pt(N_("↩️ Reply")), f"{PATRON_REPLY}{handover.id}")]])
    if not await _send_quoted(
        context,
        handover.patron_telegram_id,
        header,
        message.text_html,
        markup,
        kind=ANSWER_KIND,
        ref=answer_ref(staff),
    ):
        await reply(update, t("The patron has blocked Plume: the answer could not be delivered."))
        return
    await reply(
        update,
        t("Answer sent."),
        keyboard([[button(t("✅ Close the conversation"), f"{CLOSE}{handover.id}")]]),
    )


async def give_back(update: Update, context: PlumeContext, question_id: int) -> str:
    staff = context.person
    t = context.t
    if staff is not None and await context.services.handover.give_back(staff, question_id):
        return t("Cancelled. The question is back in /questions, for you or a colleague.")
    return t("Cancelled.")


async def open_patron_reply(update: Update, context: PlumeContext, question_id: int) -> Opened:
    query = update.callback_query
    patron = context.person
    assert query and patron
    t = context.t
    if not await context.services.handover.is_open_for(patron, question_id):
        await query.answer(
            t("This conversation is closed; write your question again if you need to."),
            show_alert=True,
        )
        return None
    return question_id, t("Write your reply to the library (or /cancel).")


async def send_patron_reply(
    update: Update, context: PlumeContext, question_id: int | None, message: Message
) -> None:
    patron = context.person
    assert message.text and patron
    t = context.t
    service = context.services.handover
    handover = (
        await service.patron_reply(patron, question_id, message.text) if question_id else None
    )
    if handover is None or handover.taker_telegram_id is None:
        await reply(
            update, t("This conversation is closed; write your question again if you need to.")
        )
        return
    st = _translator(context, handover.taker_language)
    header = st(
        N_("💬 <b>{name} replies</b> about “{question}”:"),
        name=handover.patron_pseudonym,
        question=escape(handover.text[:300]),
    )
    await _send_quoted(
        context,
        handover.taker_telegram_id,
        header,
        message.text_html,
        _thread_buttons(st, handover),
        ref=f"{PERSON_REF}{handover.patron_id}",
    )
    await reply(update, t("Sent to the library. Its answer will arrive here."))


@requires("staff")
async def close(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    staff = context.person
    assert query and query.data and staff
    t = context.t
    handover = await context.services.handover.close(staff, int(query.data.removeprefix(CLOSE)))
    if handover is None:
        await query.answer(t("This conversation is already closed."), show_alert=True)
        return
    await query.answer()
    await reply(update, t("Conversation closed."))
    pt = _translator(context, handover.patron_language)
    await _send(
        context,
        handover.patron_telegram_id,
        pt(
            N_(
                "✅ The library ({library}) closed the conversation about “{question}”. "
                "Write to me whenever you have another question."
            ),
            library=_answering_library(pt, handover),
            question=escape(handover.text[:300]),
        ),
    )


def handlers() -> list[PlumeHandler]:
    return [
        CallbackQueryHandler(pass_on, pattern=f"^{HANDOVER}"),
        CommandHandler(names("questions"), questions),
        CallbackQueryHandler(close, pattern=f"^{CLOSE}"),
        relay(
            Relay(
                name="handover_reply",
                prefix=ANSWER,
                key="answering",
                role="staff",
                left_behind=N_(
                    "Your answer to the patron was not sent; the question stays yours in "
                    "/questions."
                ),
                opened=open_answer,
                deliver=send_answer,
                cancelled=give_back,
            )
        ),
        relay(
            Relay(
                name="handover_patron_reply",
                prefix=PATRON_REPLY,
                key="replying_to_library",
                left_behind=N_("Your reply to the library was not sent."),
                opened=open_patron_reply,
                deliver=send_patron_reply,
            )
        ),
    ]
