"""Patrons' feedback: 👍/👎 on answers (``V:``), /avis, and the satisfaction survey.

After /avis, the patron's next text message is their remark: one message only, within
``PENDING_TTL`` seconds, with a Cancel button; a command cancels it.

After a 👎 nothing is waiting: Plume thanks and offers a "say what was missing" button; the
next message is a question as any other. Only once the patron pressed that button does
Plume ask with a ForceReply prompt, and only a reply *to that prompt* is taken as the
comment: a new question typed beside it is answered as a question (issue 10, point 7).

The awaited message is caught in group ``PENDING_GROUP`` (before the search feature) and
stops there; any other message goes on to the search as usual. Feedback is stored before
thanking.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import PlumeApplication, PlumeContext, PlumeHandler
from bot.feedback.service import FREE, SURVEY, FeedbackError, subject_media_type
from bot.i18n import translator
from bot.outbox import BULK
from bot.shared.callbacks import FEEDBACK as FEEDBACK
from bot.shared.callbacks import VOTE as VOTE_BUTTON
from handlers.shared.common import button, escape, keyboard, reply, show
from handlers.shared.menus import names

log = logging.getLogger(__name__)

PENDING_KEY = "plume.feedback.pending"
PENDING_TTL = 600.0  # seconds a "what was missing?" or /avis prompt waits for the text
PENDING_GROUP = -5
SURVEY_JOB = "plume.survey"
SURVEY_CHECK_SECONDS = 3600.0
SURVEY_FIRST_SECONDS = 30.0
SURVEY_BATCH = 200


def _cancel_keyboard(context: PlumeContext) -> InlineKeyboardMarkup:
    return keyboard([[button(context.t("✖ Cancel"), f"{FEEDBACK}x")]])


def _set_pending(
    context: PlumeContext, purpose: str, feedback_id: int | None, prompt_id: int | None = None
) -> None:
    """Waits for one message: any text (``avis``), or a reply to ``prompt_id`` (``missing``)."""
    assert context.user_data is not None
    context.user_data[PENDING_KEY] = (
        purpose,
        feedback_id,
        time.time() + PENDING_TTL,  # wall clock: any instance, any restart reads it
        prompt_id,
    )


def _take_pending(context: PlumeContext, replied_to: int | None) -> tuple[str, int | None] | None:
    """The waiting prompt this message answers, removed (one message only); else None.

    A "what was missing" prompt only takes a reply to itself: anything else is left to
    the search, and the prompt keeps waiting for its reply.
    """
    if context.user_data is None:
        return None
    pending = context.user_data.get(PENDING_KEY)
    if not pending:
        return None
    purpose, feedback_id, expires, prompt_id = pending
    if time.time() > expires:
        context.user_data.pop(PENDING_KEY, None)
        return None
    if prompt_id is not None and replied_to != prompt_id:
        return None
    context.user_data.pop(PENDING_KEY, None)
    return purpose, feedback_id


# 👍 / 👎 ------------------------------------------------------------------------------


async def vote(update: Update, context: PlumeContext) -> None:
    """``V:<result type letter>:<doc id>:<1|0>`` from the search answers."""
    query = update.callback_query
    person = context.person
    assert query is not None
    t = context.t
    parts = (query.data or "").split(":")
    if person is None or len(parts) != 4 or parts[3] not in ("0", "1") or not parts[2]:
        await query.answer(t("This button is no longer valid."), show_alert=True)
        return
    subject_id = parts[2][:64]
    useful = parts[3] == "1"
    services = context.services
    media_type = await subject_media_type(services.sessions, subject_id)
    feedback_id = await services.feedback.vote(
        person.id,
        subject_id,
        1 if useful else 0,
        library_id=person.library_id,
        media_type=media_type,
    )
    if useful:
        await query.answer(t("Thank you! Glad it helped."))
        return
    await query.answer(t("Thank you for telling us."))
    if feedback_id is None:
        return
    await reply(
        update,
        t("Thank you. Would you tell us what was missing? You can also just ask again."),
        keyboard([[button(t("✍ Say what was missing"), f"{FEEDBACK}m:{feedback_id}:0")]]),
    )


async def _ask_what_was_missing(update: Update, context: PlumeContext, feedback_id: int) -> None:
    """The ForceReply prompt: the patron's reply to it is the comment."""
    chat = update.effective_chat
    assert chat is not None
    prompt = await chat.send_message(
        context.t(
            "What was missing in this answer? Reply to this message; I will pass it on to "
            "the team."
        ),
        reply_markup=ForceReply(input_field_placeholder=context.t("What was missing…")),
    )
    _set_pending(context, "missing", feedback_id, prompt.message_id)


# /avis ---------------------------------------------------------------------------------


async def avis(update: Update, context: PlumeContext) -> None:
    person = context.person
    assert person is not None
    text = " ".join(context.args or []).strip()
    if text:
        await _store_remark(update, context, text)
        return
    _set_pending(context, "avis", None)
    await reply(
        update,
        context.t(
            "Your opinion helps the libraries improve the digital library. Write your remark "
            "in one message (what you liked, what was missing, an idea...)."
        ),
        _cancel_keyboard(context),
    )


async def _store_remark(update: Update, context: PlumeContext, text: str) -> None:
    person = context.person
    assert person is not None
    t = context.t
    feedback_id = await context.services.feedback.add(
        person.id, FREE, comment=text, library_id=person.library_id
    )
    stars = [button("★" * n, f"{FEEDBACK}r:{feedback_id}:{n}") for n in range(1, 6)]
    await reply(
        update,
        t(
            "Thank you, your remark is recorded. How would you rate the digital library, "
            "from 1 to 5 stars?"
        ),
        keyboard([stars[:3], stars[3:], [button(t("Skip"), f"{FEEDBACK}r:{feedback_id}:0")]]),
    )


def _contact_keyboard(context: PlumeContext, feedback_id: int) -> InlineKeyboardMarkup:
    t = context.t
    return keyboard(
        [
            [
                button(t("Yes, you may"), f"{FEEDBACK}c:{feedback_id}:1"),
                button(t("No, thank you"), f"{FEEDBACK}c:{feedback_id}:0"),
            ]
        ]
    )


# Pending text --------------------------------------------------------------------------


async def pending_text(update: Update, context: PlumeContext) -> None:
    """The one message after a 👎 or /avis; anything else goes on to the other handlers."""
    message = update.effective_message
    if context.person is None or message is None or context.user_data is None:
        return
    if PENDING_KEY not in context.user_data:
        return
    if (message.text or "").startswith("/"):
        context.user_data.pop(PENDING_KEY, None)  # a command: the prompt is dropped
        return
    replied = message.reply_to_message
    pending = _take_pending(context, replied.message_id if replied else None)
    if pending is None:
        return
    purpose, feedback_id = pending
    text = (message.text or "").strip()
    t = context.t
    if purpose == "missing" and feedback_id is not None:
        await context.services.feedback.add_comment(feedback_id, context.person.id, text)
        await reply(
            update,
            t("Thank you, the team will read it. It helps us complete the answers."),
        )
    else:
        await _store_remark(update, context, text)
    raise ApplicationHandlerStop


# Buttons -------------------------------------------------------------------------------


async def feedback_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query is not None
    t = context.t
    parts = (query.data or "").removeprefix(FEEDBACK).split(":")
    invalid = t("This button is no longer valid.")
    if person is None:
        await query.answer(invalid, show_alert=True)
        return
    if parts == ["x"]:
        if context.user_data is not None:
            context.user_data.pop(PENDING_KEY, None)
        await query.answer()
        await show(update, t("Cancelled. You can ask me a question at any time."))
        return
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        await query.answer(invalid, show_alert=True)
        return
    action, feedback_id, value = parts[0], int(parts[1]), int(parts[2])
    feedback = context.services.feedback
    try:
        if action == "m" and await feedback.owns(feedback_id, person.id):
            await query.answer()
            await _ask_what_was_missing(update, context, feedback_id)
            return
        if action == "r":  # /avis rating, 0 = skipped
            done = await feedback.rate(feedback_id, person.id, FREE, value or None)
            if done:
                await query.answer()
                await show(
                    update,
                    t(
                        "May the library team contact you about your remark? They would "
                        "see your first name and could write to you here."
                    ),
                    _contact_keyboard(context, feedback_id),
                )
                return
        elif action == "c" and value in (0, 1):
            if await feedback.set_contact(feedback_id, person.id, bool(value)):
                await query.answer()
                await show(
                    update,
                    t("Thank you for your remark! The libraries read every one of them.")
                    + ("\n" + t("Someone may contact you here.") if value else ""),
                )
                return
        elif action == "s" and await feedback.rate(feedback_id, person.id, SURVEY, value):
            await query.answer()
            await show(
                update,
                t(
                    "Thank you! You answered {score}/10. Tell us more at any time with /avis.",
                    score=value,
                ),
            )
            return
    except FeedbackError:
        pass
    await query.answer(invalid, show_alert=True)


# Survey --------------------------------------------------------------------------------


def survey_keyboard(t: Any, feedback_id: int) -> InlineKeyboardMarkup:
    scores = [button(str(n), f"{FEEDBACK}s:{feedback_id}:{n}") for n in range(11)]
    return keyboard([scores[:6], scores[6:]])


async def survey_round(context: PlumeContext) -> None:
    """Sends the survey to active patrons not surveyed during the last period."""
    application = context.plume
    services = application.services
    days = services.settings.survey_period_days
    if days <= 0:
        return
    feedback = services.feedback
    for user_id in await feedback.due_for_survey(dt.timedelta(days=days), SURVEY_BATCH):
        person = await services.users.get_by_id(user_id)
        if person is None:
            continue
        feedback_id = await feedback.add(person.id, SURVEY, library_id=person.library_id)
        t = translator(person.language, services.settings.timezone)
        name = escape(person.first_name or t("there"))  # apart: Babel skips a nested t(...)
        await services.outbox.notify(
            "survey",
            person.telegram_id,
            t(
                "A quick question, {name}: would you recommend the digital library to "
                "someone close to you? From 0 (not at all) to 10 (certainly).",
                name=name,
            ),
            reply_markup=survey_keyboard(t, feedback_id).to_dict(),
            dedupe_key=f"survey:{feedback_id}",
            priority=BULK,
        )


async def on_start(application: PlumeApplication) -> None:
    """The survey job, when enabled; who got it when is in the database (feedback rows)."""
    services = application.services
    if services.settings.survey_period_days <= 0 or application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(SURVEY_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(
        survey_round, interval=SURVEY_CHECK_SECONDS, first=SURVEY_FIRST_SECONDS, name=SURVEY_JOB
    )


def handlers() -> dict[int, list[PlumeHandler]]:
    return {
        PENDING_GROUP: [MessageHandler(filters.TEXT & filters.ChatType.PRIVATE, pending_text)],
        0: [
            CommandHandler(names("feedback"), avis),
            CallbackQueryHandler(vote, pattern=f"^{VOTE_BUTTON}"),
            CallbackQueryHandler(feedback_button, pattern=f"^{FEEDBACK}"),
        ],
    }
