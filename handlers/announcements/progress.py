"""Broadcasts in the chat: the recipients' Stop button, the staff's preview, and what the
desk (:mod:`bot.announcements.desk`) shows the staff member while it watches a broadcast:
the status message, its Cancel button, the final report and its Resend button. This module
is the desk's ``rendering`` (:class:`bot.announcements.desk.DeskRendering`).
"""

from __future__ import annotations

from typing import Any, Final

from telegram import Bot, InlineKeyboardMarkup, Message

from bot.announcements.service import CANCELLED, AnnouncementView, Progress
from bot.i18n import Np_, Translator, translator
from bot.shared.callbacks import ANNOUNCEMENT_CARD as CARD
from bot.shared.callbacks import UNSUBSCRIBE as UNSUBSCRIBE
from handlers.shared.common import button, escape, keyboard

#: kept apart: Babel extracts a t.tn(...) written inside a list as a lone singular
REACHED: Final = Np_(
    "Announcement #{id} is sent: {count} person reached in {duration}.",
    "Announcement #{id} is sent: {count} people reached in {duration}.",
)


def stop_keyboard(t: Translator, topic: str) -> InlineKeyboardMarkup | None:
    if not topic:
        return None
    return keyboard([[button(t("🔕 Stop these announcements"), f"{UNSUBSCRIBE}{topic}")]])


def stop_markup(default_locale: str) -> Any:
    """(language, topic) → the recipient's Stop button as a dict (for the outbox rows)."""

    def markup_for(language: str, topic: str) -> dict[str, Any] | None:
        markup = stop_keyboard(translator(language or default_locale), topic)
        return markup.to_dict() if markup is not None else None

    return markup_for


async def send_announcement(
    bot: Bot,
    chat_id: int,
    announcement: AnnouncementView,
    markup: InlineKeyboardMarkup | None,
) -> Message:
    """The announcement exactly as recipients get it: the staff's preview, a direct answer
    (recipients' copies are outbox rows with the same parameters,
    :func:`bot.announcements.service.recipient_payload`)."""
    file_id = announcement.attachment_file_id
    if announcement.attachment_kind == "photo" and file_id:
        return await bot.send_photo(
            chat_id, file_id, caption=announcement.text or None, reply_markup=markup
        )
    if announcement.attachment_kind == "document" and file_id:
        return await bot.send_document(
            chat_id, file_id, caption=announcement.text or None, reply_markup=markup
        )
    return await bot.send_message(chat_id, announcement.text, reply_markup=markup)


def format_duration(t: Translator, seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return t("{hours} h {minutes} min", hours=seconds // 3600, minutes=seconds % 3600 // 60)
    if seconds >= 60:
        return t("{minutes} min {seconds} s", minutes=seconds // 60, seconds=seconds % 60)
    return t("{seconds} s", seconds=seconds)


def status_text(
    t: Translator,
    announcement_id: int,
    progress: Progress,
    state: str,
    elapsed: float,
    seconds_left: float | None = None,
) -> str:
    if state == CANCELLED:
        head = t("🛑 <b>Announcement #{id}</b>: cancelled.", id=announcement_id)
    elif progress.finished:
        head = t("✅ <b>Announcement #{id}</b>: sent.", id=announcement_id)
    else:
        head = t("📣 <b>Announcement #{id}</b>: sending…", id=announcement_id)
    lines = [
        head,
        t(
            "Sent: {sent} · failed: {failed} · unreachable: {unreachable}",
            sent=progress.sent,
            failed=progress.failed,
            unreachable=progress.unreachable,
        ),
    ]
    if progress.finished or state == CANCELLED:
        if state == CANCELLED and progress.cancelled:
            lines.append(t("Not sent: {left}", left=progress.cancelled))
        lines.append(t("Duration: {duration}", duration=format_duration(t, elapsed)))
    else:
        left = t.tn(
            "Left: {count} of {total}",
            "Left: {count} of {total}",
            progress.waiting,
            total=progress.total,
        )
        if seconds_left is not None:
            left += " · " + t("about {duration} to go", duration=format_duration(t, seconds_left))
        lines.append(left)
    return "\n".join(lines)


def report_text(
    t: Translator,
    announcement_id: int,
    progress: Progress,
    elapsed: float,
    errors: list[tuple[str, int]],
) -> str:
    lines = [
        t.tn(
            *REACHED,
            progress.sent,
            id=announcement_id,
            duration=format_duration(t, elapsed),
        )
    ]
    if progress.unreachable:
        lines.append(
            t.tn(
                "{n} person has blocked Plume or left Telegram: they are skipped from now on.",
                "{n} people have blocked Plume or left Telegram: they are skipped from now on.",
                progress.unreachable,
                n=progress.unreachable,
            )
        )
    if progress.failed:
        lines.append(t("Failed: {n}. Reasons:", n=progress.failed))
        lines += [f"• {escape(reason)} ({count})" for reason, count in errors]
    return "\n".join(lines)


def opening_text(t: Translator, announcement_id: int) -> str:
    return t("📣 <b>Announcement #{id}</b>: sending…", id=announcement_id)


def cancel_markup(t: Translator, announcement_id: int) -> dict[str, Any]:
    data = f"{CARD}x:{announcement_id}"
    return keyboard([[button(t("✖ Cancel the sending"), data)]]).to_dict()


def resend_markup(t: Translator, announcement_id: int, failed: int) -> dict[str, Any]:
    label = t.tn(
        "🔁 Resend to the {n} failed recipient",
        "🔁 Resend to the {n} failed recipients",
        failed,
        n=failed,
    )
    return keyboard([[button(label, f"{CARD}rf:{announcement_id}")]]).to_dict()
