"""A coordinator writes to a patron who agreed to be contacted, and the patron answers,
both through Plume (``PC:<remark id>`` for staff, ``PR:<thread id>`` for the patron): no
Telegram id or name is shown to either side (see :mod:`bot.privacy.contact`)."""

from __future__ import annotations

from typing import Any

from telegram import Message, Update

from bot.context import PlumeContext, PlumeHandler
from bot.i18n import N_, translator
from bot.shared.callbacks import CONTACT_ANSWER as ANSWER
from bot.shared.callbacks import CONTACT_WRITE as WRITE
from handlers.shared.common import button, escape, keyboard, reply
from handlers.shared.relay import Relay, relay

Opened = tuple[int, str] | None


def write_button(t: Any, feedback_id: int, who: str) -> Any:
    return button(t("✉ Write to {who}", who=who), f"{WRITE}{feedback_id}")


async def open_to_patron(update: Update, context: PlumeContext, feedback_id: int) -> Opened:
    query = update.callback_query
    staff = context.person
    assert query and staff
    t = context.t
    thread = await context.services.contact.open(staff.id, feedback_id)
    if thread is None:
        await query.answer(t("This patron can no longer be contacted."), show_alert=True)
        return None
    prompt = t(
        "Write your message to {who} about the remark “{remark}” (or /cancel). Plume "
        "delivers it as coming from the library; neither of you sees the other's "
        "Telegram account.",
        who=thread.patron_pseudonym,
        remark=escape(thread.remark[:200]),
    )
    return thread.id, prompt


async def send_to_patron(
    update: Update, context: PlumeContext, thread_id: int | None, message: Message
) -> None:
    staff = context.person
    assert message.text and staff
    t = context.t
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
        return
    context.services.outbox.wake()
    await reply(update, t("Message sent to {who}; their answer will come here.", who=who))


async def open_to_staff(update: Update, context: PlumeContext, thread_id: int) -> Opened:
    return thread_id, context.t("Write your answer to the library (or /cancel).")


async def send_to_staff(
    update: Update, context: PlumeContext, thread_id: int | None, message: Message
) -> None:
    person = context.person
    assert message.text and person
    t = context.t
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
        return
    context.services.outbox.wake()
    await reply(update, t("Sent to the library, thank you."))


def handlers() -> list[PlumeHandler]:
    return [
        relay(
            Relay(
                name="privacy_contact_staff",
                prefix=WRITE,
                key="contact_thread",
                role="coordinator",
                left_behind=N_("Your message to the patron was not sent."),
                opened=open_to_patron,
                deliver=send_to_patron,
            )
        ),
        relay(
            Relay(
                name="privacy_contact_patron",
                prefix=ANSWER,
                key="contact_answer",
                left_behind=N_("Your answer to the library was not sent."),
                opened=open_to_staff,
                deliver=send_to_staff,
                state=2,  # as persisted before the relay was shared
            )
        ),
    ]
