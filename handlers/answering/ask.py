"""Patrons ask in plain words; Plume answers with a card, close matches and 👍/👎."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.answering.judge import Pick
from bot.answering.service import Answer, Card
from bot.answering.wishes import asks_for_a_person, asks_for_workshops
from bot.context import PlumeApplication, PlumeContext, PlumeHandler
from bot.i18n import Translator
from bot.shared.callbacks import BROWSE, CARD, WORKSHOP_LIST
from bot.shared.callbacks import HANDOVER as HANDOVER
from bot.shared.callbacks import VOTE as VOTE_BUTTON
from bot.shared.labels import MEDIA_EMOJI
from handlers.answering.chat import chat_reply
from handlers.answering.libraries import others_row, send_library_card
from handlers.shared.cards import link_row, short
from handlers.shared.common import button, escape, keyboard, reply

TYPE_CODES = {"faq": "f", "resource": "r", "item": "i"}
CODE_TYPES = {code: kind for kind, code in TYPE_CODES.items()}


def card_text(t: Translator, card: Card) -> str:
    if card.type == "faq":
        return f"💡 <b>{escape(card.title)}</b>\n\n{escape(card.body)}"
    emoji = MEDIA_EMOJI.get(card.media_type or "", "📌")
    lines = [f"{emoji} <b>{escape(card.title)}</b>"]
    if card.type == "resource":
        if card.body:
            lines.append(escape(card.body))
        if card.access:
            lines.append(t("<b>How to access it:</b> {access}", access=escape(card.access)))
        return "\n\n".join(lines)
    details = [escape(card.creator)] if card.creator else []
    if card.year:
        details.append(str(card.year))
    if details:
        lines.append(" · ".join(details))
    if card.genres:
        lines.append(escape(", ".join(card.genres)))
    if card.resource_name:
        lines.append(t("Available in: {resource}", resource=escape(card.resource_name)))
    return "\n".join(lines)


def hit_row(hit: Pick) -> list[InlineKeyboardButton]:
    emoji = MEDIA_EMOJI.get(hit.media_type or "", "💡" if hit.type == "faq" else "📌")
    return [button(f"{emoji} {short(hit.title)}", f"{CARD}{TYPE_CODES[hit.type]}:{hit.id}")]


def vote_row(card: Card) -> list[InlineKeyboardButton]:
    data = f"{VOTE_BUTTON}{TYPE_CODES[card.type]}:{card.id}"
    return [button("👍", f"{data}:1"), button("👎", f"{data}:0")]


def card_markup(
    t: Translator,
    card: Card,
    see_also: list[Pick],
    libraries: bool = False,
    wishes: Sequence[list[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    rows = [link_row(t, card)]
    rows += [hit_row(hit) for hit in see_also if hit.type in TYPE_CODES]
    if libraries:  # "horaires" from a patron whose library Plume does not know
        rows.append(others_row(t))
    rows += wishes
    rows.append(vote_row(card))
    return keyboard(rows)


def workshops_row(t: Translator) -> list[InlineKeyboardButton]:
    return [button(t("📅 The coming workshops"), WORKSHOP_LIST)]


async def wish_rows(
    context: PlumeContext, answer: Answer, *, handover: bool
) -> list[list[InlineKeyboardButton]]:
    """The buttons for what the question asks beyond its card (``bot.answering.wishes``):
    the workshop list; a librarian, when asked for (``handover``: offered here)."""
    t, rows = context.t, []
    question = answer.question or ""
    if asks_for_workshops(question):
        rows.append(workshops_row(t))
    if handover and question and asks_for_a_person(question) and context.person is not None:
        draft = await context.services.handover.draft(context.person, question)
        rows.append([button(t("🙋 Ask a librarian"), f"{HANDOVER}{draft}")])
    return rows


async def ask(update: Update, context: PlumeContext) -> None:
    message = update.effective_message
    person = context.person
    if message is None or person is None or not message.text:
        return
    answers = context.services.answers
    answer = await answers.answer(person, message.text, log=False)
    try:
        await _reply_with(update, context, answer)
    finally:
        # Logged once the patron has the reply: its writes add nothing to their wait.
        await answers.log_question(person, answer)


async def _reply_with(update: Update, context: PlumeContext, answer: Answer) -> None:
    t = context.t
    person = context.person
    assert person is not None
    if answer.chat is not None:
        await reply(update, chat_reply(t, answer.chat, person.role, person.first_name))
        return
    if answer.library is not None:
        await send_library_card(update, context, answer.library)
        return
    if answer.best is not None:
        text = card_text(t, answer.best)
        see_also = [hit for hit in answer.see_also if hit.type in TYPE_CODES]
        if see_also:
            text += "\n\n" + t("<i>See also:</i>")
        wishes = await wish_rows(context, answer, handover=True)
        markup = card_markup(t, answer.best, see_also, answer.about_library, wishes)
        await reply(update, text, markup)
        return
    await not_found(update, context, answer)


async def not_found(update: Update, context: PlumeContext, answer: Answer) -> None:
    t = context.t
    person = context.person
    assert person is not None
    rows = []
    if answer.see_also:
        rows += [hit_row(hit) for hit in answer.see_also]
    if answer.about_library:
        rows.append(others_row(t))
    rows += await wish_rows(context, answer, handover=False)
    rows.append([button(t("📚 Browse the media"), BROWSE)])
    if answer.question:
        draft = await context.services.handover.draft(person, answer.question)
        rows.append([button(t("🙋 Ask a librarian"), f"{HANDOVER}{draft}")])
    text = t("I could not find a sure answer to your question.")
    if answer.see_also:
        text += "\n" + t("Maybe one of these answers?")
        text += "\n" + t("You can also browse the media, or pass your question to a librarian.")
    else:
        text += "\n" + t("You can browse the media, or pass your question to a librarian.")
    await reply(update, text, keyboard(rows))


async def show_card(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    code, _, doc_id = query.data.removeprefix(CARD).partition(":")
    kind = CODE_TYPES.get(code)
    card = await context.services.answers.view(person, kind, doc_id) if kind else None
    if card is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await reply(update, card_text(t, card), card_markup(t, card, []))


async def refresh_index(context: PlumeContext) -> None:
    await context.services.search.refresh_if_changed()


async def on_start(application: PlumeApplication) -> None:
    """Load the saved index (or build it) in the background, then follow the catalogue:
    imports made by other processes, FAQ entries added by staff."""
    services = application.services
    application.create_task(services.search.ensure_loaded(), name="search index")
    assert application.job_queue is not None
    interval = services.settings.search_refresh_seconds
    application.job_queue.run_repeating(
        refresh_index, interval=interval, first=interval, name="search index refresh"
    )


def handlers() -> list[PlumeHandler]:
    return [
        CallbackQueryHandler(show_card, pattern=f"^{CARD}"),
        MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, ask),
    ]
