"""Staff teach Plume a question in one step, from /sans_reponse or a handed-over question.

``T:h:<handover id>`` (a handed-over question) or ``T:u:<n>`` (the n-th line of the last
/sans_reponse listing) shows the question with Plume's best FAQ guesses: ``T:a:<k>`` adds
it to the k-th guess as a new phrasing (one tap, done); ``T:n`` creates a new entry: the
staff member gives its title (a well-written question; ``T:k`` keeps the patron's wording,
which otherwise stays as another phrasing), then its answer (a conversation: those texts
are never a patron's question); ``T:x`` cancels. The bot the staff member talks to
refreshes its index at once; other instances within ``PLUME_SEARCH_REFRESH_SECONDS``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import N_
from bot.shared.callbacks import HANDOVER_ANSWER
from bot.shared.callbacks import TEACH as TEACH
from bot.teach.service import MAX_TITLE, Taught
from handlers.shared.common import button, conversation, escape, keyboard, reply, requires
from handlers.shared.menus import names

LISTING_KEY = "plume.teach.listing"  # the texts of the last /sans_reponse listing
TEACHING_KEY = "plume.teach.current"  # {"question": ..., "guesses": [faq ids]}
WRITING = 1  # the answer
TITLING = 2  # the entry's title
WRITE_TIMEOUT = 15 * 60
BUTTON_TITLE = 44


def remember_listing(context: PlumeContext, texts: list[str]) -> None:
    """The questions a /sans_reponse listing numbered, for its ``T:u:<n>`` buttons."""
    if context.user_data is not None:
        context.user_data[LISTING_KEY] = list(texts)


def listing_keyboard(count: int) -> InlineKeyboardMarkup:
    buttons = [button(f"➕ {n + 1}", f"{TEACH}u:{n}") for n in range(count)]
    return keyboard([buttons[i : i + 5] for i in range(0, len(buttons), 5)])


def handover_button(t: Any, handover_id: int) -> InlineKeyboardButton:
    return button(t("📚 Teach Plume"), f"{TEACH}h:{handover_id}")


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TITLE else text[: BUTTON_TITLE - 1].rstrip() + "…"


def _current(context: PlumeContext) -> dict[str, Any] | None:
    return context.user_data.get(TEACHING_KEY) if context.user_data is not None else None


@requires("staff")
async def choose(update: Update, context: PlumeContext) -> None:
    """The question, Plume's best guesses, and a new entry."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    t = context.t
    kind, _, raw = (query.data or "").removeprefix(TEACH).partition(":")
    question: str | None = None
    handover_id: int | None = None
    if kind == "h" and raw.isdigit():
        handover = await context.services.handover.get(int(raw))
        question = handover.text if handover else None
        handover_id = handover.id if handover else None
    elif kind == "u" and raw.isdigit():
        listing = context.user_data.get(LISTING_KEY) or []
        question = listing[int(raw)] if int(raw) < len(listing) else None
    if not question:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    guesses = await context.services.teaching.guesses(question)
    context.user_data[TEACHING_KEY] = {
        "question": question,
        "guesses": [g.id for g in guesses],
        "handover": handover_id,
    }
    rows = [
        [button(f"➕ {_short(guess.title)}", f"{TEACH}a:{number}")]
        for number, guess in enumerate(guesses)
    ]
    rows.append([button(t("🆕 New FAQ entry"), f"{TEACH}n")])
    rows.append([button(t("✖ Cancel"), f"{TEACH}x")])
    text = t("Teach Plume to answer: “{question}”", question=escape(question))
    if guesses:
        text += "\n\n" + t(
            "Add it as another phrasing of one of these FAQ entries, or create a new entry:"
        )
    else:
        text += "\n\n" + t("No FAQ entry comes close: create a new one.")
    await reply(update, text, keyboard(rows))


def _done_text(context: PlumeContext, taught: Taught, question: str) -> str:
    t = context.t
    if not taught.added:
        return t(
            "“{question}” was already a phrasing of “{entry}”.",
            question=escape(question),
            entry=escape(taught.question),
        )
    return t(
        "Done: Plume now answers “{question}” with “{entry}” (within a minute everywhere).",
        question=escape(question),
        entry=escape(taught.question),
    )


async def _waiting_patron(
    context: PlumeContext, current: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Taught from a handed-over question still open: the patron who asked has no answer
    yet (what Plume learnt answers the next ones); what to say, and the button to answer."""
    handover_id = current.get("handover")
    person = context.person
    if handover_id is None or person is None:
        return "", None
    handover = await context.services.handover.get(int(handover_id))
    if handover is None or handover.state not in ("pending", "taken"):
        return "", None
    if handover.state == "taken" and handover.taken_by != person.id:
        return "", None
    text = "\n\n" + context.t(
        "The patron who asked is still waiting for your answer: Plume will answer the next "
        "ones. Send it with “✍️ Answer”."
    )
    return text, keyboard([[button(context.t("✍️ Answer"), f"{HANDOVER_ANSWER}{handover_id}")]])


async def _refresh(context: PlumeContext) -> None:
    # This bot at once; other instances at their next refresh.
    context.application.create_task(
        context.services.search.refresh_if_changed(), name="search index refresh"
    )


@requires("staff")
async def add_to_guess(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    t = context.t
    current = _current(context)
    raw = (query.data or "").removeprefix(f"{TEACH}a:")
    guesses = current["guesses"] if current else []
    if current is None or not raw.isdigit() or int(raw) >= len(guesses):
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    taught = await context.services.teaching.add_phrasing(guesses[int(raw)], current["question"])
    if taught is None:
        await query.answer(t("This FAQ entry no longer exists."), show_alert=True)
        return
    context.user_data.pop(TEACHING_KEY, None)
    await query.answer()
    await _refresh(context)
    waiting, markup = await _waiting_patron(context, current)
    await reply(update, _done_text(context, taught, current["question"]) + waiting, markup)


@requires("staff")
async def new_entry(update: Update, context: PlumeContext) -> int:
    """A new entry: first its title, as the FAQ will show it."""
    query = update.callback_query
    assert query is not None
    t = context.t
    current = _current(context)
    if current is None:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    await reply(
        update,
        t(
            "What should the FAQ call this entry? Send its title, a short question as "
            "patrons would read it (the wording “{question}” stays as another phrasing), "
            "or keep that wording. /annuler to stop.",
            question=escape(current["question"]),
        ),
        keyboard(
            [[button(t("✔ Keep “{question}”", question=_short(current["question"])), f"{TEACH}k")]]
        ),
    )
    return TITLING


async def _ask_answer(update: Update, context: PlumeContext, current: dict[str, Any]) -> int:
    if context.user_data is not None:
        context.user_data[TEACHING_KEY] = current
    await reply(
        update,
        context.t(
            "Write the answer patrons will get to “{question}” (or /annuler).",
            question=escape(current.get("title") or current["question"]),
        ),
    )
    return WRITING


@requires("staff")
async def title_typed(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    current = _current(context)
    assert message is not None
    if current is None:
        await reply(update, context.t("Cancelled."))
        return ConversationHandler.END
    title = " ".join((message.text or "").split())
    if not 3 <= len(title) <= MAX_TITLE:
        await reply(
            update,
            context.t.tn(
                "A title is a short question, at most {n} character: send another one.",
                "A title is a short question, at most {n} characters: send another one.",
                MAX_TITLE,
                n=MAX_TITLE,
            ),
        )
        return TITLING
    return await _ask_answer(update, context, {**current, "title": title})


@requires("staff")
async def title_kept(update: Update, context: PlumeContext) -> int:
    query = update.callback_query
    assert query is not None
    current = _current(context)
    if current is None:
        await query.answer(context.t("This button is no longer valid."), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    return await _ask_answer(update, context, {**current, "title": None})


@requires("staff")
async def write_answer(update: Update, context: PlumeContext) -> int:
    message = update.effective_message
    assert message is not None and context.user_data is not None
    current = context.user_data.pop(TEACHING_KEY, None)
    if current is None or not (message.text or "").strip():
        await reply(update, context.t("Cancelled."))
        return ConversationHandler.END
    question, title = current["question"], current.get("title")
    taught = await context.services.teaching.create_entry(
        question, message.text or "", title=title
    )
    await _refresh(context)
    t = context.t
    if not taught.also:
        text = t(
            "Done: new FAQ entry “{entry}”. Plume answers it within a minute everywhere.",
            entry=escape(taught.question),
        )
    else:
        text = t(
            "Done: new FAQ entry “{entry}”. Plume answers it, and “{question}”, within a "
            "minute everywhere.",
            entry=escape(taught.question),
            question=escape(taught.also),
        )
    waiting, markup = await _waiting_patron(context, current)
    await reply(update, text + waiting, markup)
    return ConversationHandler.END


async def cancel(update: Update, context: PlumeContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(TEACHING_KEY, None)
    query = update.callback_query
    if query is not None:
        await query.answer()
    await reply(update, context.t("Cancelled."))
    return ConversationHandler.END


def handlers() -> list[PlumeHandler]:
    return [
        conversation(
            name="faq_teaching",
            role="staff",
            keys=(TEACHING_KEY,),
            left_behind=N_("The new FAQ entry you were writing was not saved."),
            entry_points=[CallbackQueryHandler(new_entry, pattern=f"^{TEACH}n$")],
            states={
                TITLING: [
                    MessageHandler(filters.TEXT & ~filters.COMMAND, title_typed),
                    CallbackQueryHandler(title_kept, pattern=f"^{TEACH}k$"),
                ],
                WRITING: [MessageHandler(filters.TEXT & ~filters.COMMAND, write_answer)],
            },
            fallbacks=[
                CommandHandler(names("cancel"), cancel),
                CallbackQueryHandler(cancel, pattern=f"^{TEACH}x$"),
            ],
            conversation_timeout=WRITE_TIMEOUT,
            allow_reentry=True,
        ),
        CallbackQueryHandler(choose, pattern=f"^{TEACH}[hu]:"),
        CallbackQueryHandler(add_to_guess, pattern=f"^{TEACH}a:"),
        CallbackQueryHandler(cancel, pattern=f"^{TEACH}x$"),
    ]
