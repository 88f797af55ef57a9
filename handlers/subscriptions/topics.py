"""Choosing announcements: the question after /start, /settings, and "Stop" in one tap."""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler

from bot.context import PlumeContext, PlumeHandler
from bot.shared.callbacks import SUBSCRIBE as SUBSCRIBE
from bot.subscriptions.service import TOPIC_NAMES, TOPICS, is_topic
from handlers.announcements import UNSUBSCRIBE
from handlers.shared.common import button, keyboard, reply, show

TOGGLE = f"{SUBSCRIBE}t:"
DONE = f"{SUBSCRIBE}ok"
MENU = f"{SUBSCRIBE}menu"


def subscriptions_keyboard(context: PlumeContext, chosen: set[str]) -> InlineKeyboardMarkup:
    t = context.t
    rows = [
        [button(("✅ " if topic in chosen else "▫️ ") + t(TOPIC_NAMES[topic]), f"{TOGGLE}{topic}")]
        for topic in TOPICS
    ]
    rows.append([button(t("Done"), DONE)])
    return keyboard(rows)


def question(context: PlumeContext) -> str:
    return context.t(
        "🔔 Which announcements would you like to receive? Tap to choose, then “Done”. "
        "I send nothing you did not ask for, and every announcement has a button to stop it."
    )


async def ask_subscriptions(update: Update, context: PlumeContext) -> None:
    """The question asked once after /start (and from /settings)."""
    person = context.person
    assert person is not None
    chosen = await context.services.subscriptions.topics_of(person.id)
    await reply(update, question(context), subscriptions_keyboard(context, chosen))


async def subscriptions_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    service = context.services.subscriptions
    data = query.data
    if data == MENU:
        await query.answer()
        chosen = await service.topics_of(person.id)
        await show(update, question(context), subscriptions_keyboard(context, chosen))
    elif data.startswith(TOGGLE) and is_topic(data.removeprefix(TOGGLE)):
        await service.toggle(person.id, data.removeprefix(TOGGLE), library_id=person.library_id)
        await query.answer()
        chosen = await service.topics_of(person.id)
        await show(update, question(context), subscriptions_keyboard(context, chosen))
    elif data == DONE:
        await query.answer()
        chosen = await service.topics_of(person.id)
        if chosen:
            names = "\n".join(f"• {t(TOPIC_NAMES[topic])}" for topic in TOPICS if topic in chosen)
            text = t("🔔 Noted, you will receive:\n{topics}", topics=names)
        else:
            text = t("🔕 Noted: I will send you no announcements.")
        await show(update, text + "\n" + t("You can change this at any time in /settings."))
    else:
        await query.answer(t("This button is no longer valid."), show_alert=True)


async def stop_button(update: Update, context: PlumeContext) -> None:
    """The "Stop" button of an announcement: unsubscribes from its kind at once."""
    query = update.callback_query
    person = context.person
    assert query and query.data and person
    t = context.t
    topic = query.data.removeprefix(UNSUBSCRIBE)
    if not is_topic(topic):
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    await context.services.subscriptions.unsubscribe(
        person.id, topic, library_id=person.library_id
    )
    text = t(
        "🔕 Done: you will no longer receive “{topic}”. You can subscribe again in /settings.",
        topic=t(TOPIC_NAMES[topic]),
    )
    await query.answer(t("Unsubscribed."))
    with contextlib.suppress(TelegramError):  # an old message: the confirmation matters
        await query.edit_message_reply_markup(reply_markup=None)
    await reply(update, text)


def handlers() -> list[PlumeHandler]:
    return [
        CallbackQueryHandler(subscriptions_button, pattern=f"^{SUBSCRIBE}"),
        CallbackQueryHandler(stop_button, pattern=f"^{UNSUBSCRIBE}"),
    ]
