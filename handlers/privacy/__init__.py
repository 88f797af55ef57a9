"""The patron's rights in the chat: the notice, /mes_donnees, /oublier; erasure on request.

``/confidentialite`` (``/privacy``) shows the short notice with a button to the full text
(also shown at a new patron's first /start); ``/mes_donnees`` (``/mydata``) sends the JSON
file of everything Plume holds about the person, then a short summary; ``/oublier``
(``/forget``) asks for confirmation, then erases. Administrators erase a person on request
with ``/effacer U17`` (``/erase``), by the pseudonym staff see. The retention run is a daily
job started here.
"""

from __future__ import annotations

import datetime as dt
import logging

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.config import Settings
from bot.context import PlumeApplication, PlumeContext, PlumeHandler
from bot.i18n import Translator
from bot.persistence import DatabasePersistence
from bot.privacy.service import pseudonym
from bot.shared.callbacks import PRIVACY as PRIVACY
from bot.shared.callbacks import PRIVACY_ADMIN_ERASE as ADMIN_ERASE
from bot.shared.callbacks import PRIVACY_FORGET_NO as FORGET_NO
from bot.shared.callbacks import PRIVACY_FORGET_YES as FORGET_YES
from bot.shared.callbacks import PRIVACY_NOTICE as FULL_NOTICE
from handlers.privacy import contact
from handlers.privacy.contact import write_button
from handlers.shared.common import button, escape, keyboard, reply, requires, show
from handlers.shared.menus import names

__all__ = ["handlers", "notice_keyboard", "on_start", "short_notice", "write_button"]

log = logging.getLogger(__name__)

RETENTION_JOB = "privacy-retention"
RETENTION_EVERY = dt.timedelta(days=1)
RETENTION_FIRST = dt.timedelta(minutes=5)


def _days(t: Translator, days: int) -> str:
    return t.tn("{count} day", "{count} days", days)


def short_notice(t: Translator, settings: Settings) -> str:
    """What a new patron reads first (the full text is one tap away)."""
    return t(
        "🔒 <b>Your data</b>\n"
        "{controller} runs Plume as part of its public-interest mission: to answer your "
        "questions, manage workshops and the announcements you choose, and count the use "
        "of the service anonymously. Your account is erased after {retention} without "
        "activity; phone numbers, e-mail and postal addresses and card numbers typed in "
        "questions are masked.\n"
        "/mydata: a copy of your data · /forget: erase everything · /privacy: this notice.\n"
        "Data protection contact: {dpo}",
        controller=escape(settings.controller_name),
        retention=_days(t, settings.retention_days),
        dpo=escape(settings.dpo_contact),
    )


def full_notice(t: Translator, settings: Settings) -> str:
    """The information notice (articles 12–14 of the RGPD), from the settings."""
    return "\n\n".join(
        [
            t("🔒 <b>Privacy notice</b>"),
            t(
                "<b>Controller:</b> {controller}. <b>Data protection officer:</b> {dpo}.",
                controller=escape(settings.controller_name),
                dpo=escape(settings.dpo_contact),
            ),
            t(
                "<b>Legal basis:</b> a task carried out in the public interest (the public "
                "library service; RGPD article 6.1.e)."
            ),
            t(
                "<b>Purposes:</b> answering your questions and passing them to librarians "
                "when you ask; workshop registrations, reminders and attendance; the "
                "announcements you chose; anonymous statistics for the libraries and the "
                "evaluation report."
            ),
            t(
                "<b>Data:</b> your Telegram id, first name and language, your library, your "
                "choices, your questions, votes and remarks, your workshop registrations. "
                "Personal details typed in a question (phone, e-mail, address, card numbers) "
                "are masked before anything is stored. Statistics keep counts, never people."
            ),
            t(
                "<b>Recipients:</b> the network's library staff, only for what they do for "
                "you, under a pseudonym (never your Telegram id); no advertising, no "
                "transfer outside the network. Every access by staff is logged."
            ),
            t(
                "<b>Retention:</b> your account and everything linked to it: {retention} after "
                "your last message; the text of a question Plume could not answer: "
                "{questions}; your name on a workshop registration: {registrations} after the "
                "workshop.",
                retention=_days(t, settings.retention_days),
                questions=_days(t, settings.question_text_days),
                registrations=_days(t, settings.registration_days),
            ),
            t(
                "<b>Your rights:</b> access and portability: /mydata sends you a file of all "
                "your data; erasure: /forget erases everything at once; rectification: "
                "/settings; objection and restriction: write to {dpo}.",
                dpo=escape(settings.dpo_contact),
            ),
            t(
                "<b>Complaint:</b> you may lodge a complaint with the CNIL "
                "(www.cnil.fr, 3 place de Fontenoy, 75007 Paris)."
            ),
        ]
    )


def notice_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return keyboard([[button(t("📄 Full privacy notice"), FULL_NOTICE)]])


async def privacy_command(update: Update, context: PlumeContext) -> None:
    """The short notice with its "full text" button (also at a new patron's /start)."""
    t = context.t
    await reply(update, short_notice(t, context.services.settings), notice_keyboard(t))


async def full_notice_button(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await reply(update, full_notice(context.t, context.services.settings))


async def my_data(update: Update, context: PlumeContext) -> None:
    person = context.person
    chat = update.effective_chat
    assert person is not None and chat is not None
    t = context.t
    privacy = context.services.privacy
    document = await privacy.export(person.id)
    if document is None:  # erased between the update and now
        await reply(update, t("Plume holds no data about you."))
        return
    data = privacy.export_json(document)
    name = f"plume-data-{pseudonym(person.id)}.json"
    await chat.send_document(
        InputFile(data, filename=name),
        caption=t("Everything Plume holds about you (JSON)."),
    )
    summary = privacy.summary(document)
    lines = [
        t("<b>What Plume holds about you</b>"),
        t(
            "Language: {language} · library: {library}",
            language=person.language,
            library=escape((document["profile"]["library"] or {}).get("name") or t("not chosen")),
        ),
        t.tn("{count} subscription", "{count} subscriptions", summary.subscriptions),
        t.tn("{count} question", "{count} questions", summary.questions),
        t.tn("{count} vote", "{count} votes", summary.votes),
        t.tn("{count} remark or rating", "{count} remarks or ratings", summary.remarks),
        t.tn(
            "{count} workshop registration",
            "{count} workshop registrations",
            summary.registrations,
        ),
        t.tn("{count} question passed on", "{count} questions passed on", summary.handovers),
        t.tn("{count} message received", "{count} messages received", summary.messages),
        "",
        t("/forget erases all of it."),
    ]
    await reply(update, "\n".join(lines))


async def forget(update: Update, context: PlumeContext) -> None:
    t = context.t
    await reply(
        update,
        t(
            "⚠️ Erase everything Plume holds about you? Your account, choices, questions, "
            "remarks and registrations are erased for good (statistics keep only anonymous "
            "counts). This cannot be undone."
        ),
        keyboard(
            [
                [button(t("🗑 Yes, erase everything"), FORGET_YES)],
                [button(t("No, keep my data"), FORGET_NO)],
            ]
        ),
    )


def drop_in_memory(context: PlumeContext, telegram_id: int) -> None:
    """What python-telegram-bot holds of the person in this process (user_data,
    chat_data, conversation states), dropped as their rows were."""
    application = context.application
    application.drop_user_data(telegram_id)
    application.drop_chat_data(telegram_id)  # a private chat's id is the person's
    key = (telegram_id, telegram_id)
    persistence = application.persistence
    # PTB's name → TrackingDict of every persistent ConversationHandler; no public accessor.
    for name, states in application._conversation_handler_conversations.items():
        states.data.pop(key, None)
        if isinstance(persistence, DatabasePersistence):
            persistence.forget_state(name, key)


async def forget_confirmed(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    person = context.person
    assert query is not None and person is not None
    t = context.t
    await query.answer()
    await context.services.privacy.erase(
        [person.id], actor=pseudonym(person.id), action="forget (own request)"
    )
    drop_in_memory(context, person.telegram_id)
    context.person = None
    await show(
        update,
        t(
            "✅ Done: everything Plume held about you is erased. If you write again, you "
            "will start afresh, as a new patron."
        ),
    )


async def forget_cancelled(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await show(update, context.t("Nothing was erased."))


@requires("admin")
async def erase_on_request(update: Update, context: PlumeContext) -> None:
    """``/effacer U17``: an administrator erases a person who asked (by pseudonym)."""
    t = context.t
    reference = " ".join(context.args or [])
    found = await context.services.privacy.find(reference) if reference else None
    if found is None:
        await reply(
            update,
            t("Give the pseudonym staff see, e.g. /erase U17 (or a Telegram id)."),
        )
        return
    user_id, _ = found
    await reply(
        update,
        t(
            "Erase everything Plume holds about {who}? This cannot be undone.",
            who=pseudonym(user_id),
        ),
        keyboard(
            [[button(t("🗑 Erase {who}", who=pseudonym(user_id)), f"{ADMIN_ERASE}{user_id}")]]
        ),
    )


@requires("admin")
async def erase_on_request_confirmed(update: Update, context: PlumeContext) -> None:
    query = update.callback_query
    admin = context.person
    assert query is not None and query.data is not None and admin is not None
    t = context.t
    user_id = int(query.data.removeprefix(ADMIN_ERASE))
    found = await context.services.privacy.find(pseudonym(user_id))
    if found is None:
        await query.answer(t("This person is already erased."), show_alert=True)
        return
    await query.answer()
    await context.services.privacy.erase(
        [user_id], actor=pseudonym(admin.id), actor_id=admin.id, action="erase on request"
    )
    drop_in_memory(context, found[1])
    await show(update, t("✅ {who} is erased.", who=pseudonym(user_id)))


async def _retention(context: PlumeContext) -> None:
    await context.services.privacy.run_retention()


async def on_start(application: PlumeApplication) -> None:
    """The daily retention run (first a few minutes after the start)."""
    if application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(RETENTION_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(
        _retention,
        interval=RETENTION_EVERY,
        first=RETENTION_FIRST,
        name=RETENTION_JOB,
    )


def handlers() -> list[PlumeHandler]:
    return [
        CommandHandler(names("privacy"), privacy_command),
        CommandHandler(names("my_data"), my_data),
        CommandHandler(names("forget"), forget),
        CommandHandler(names("erase"), erase_on_request),
        CallbackQueryHandler(full_notice_button, pattern=f"^{FULL_NOTICE}$"),
        CallbackQueryHandler(forget_confirmed, pattern=f"^{FORGET_YES}$"),
        CallbackQueryHandler(forget_cancelled, pattern=f"^{FORGET_NO}$"),
        CallbackQueryHandler(erase_on_request_confirmed, pattern=f"^{ADMIN_ERASE}"),
        *contact.handlers(),
    ]
