"""Broadcasts seen from the staff's side: the status message and the final report.

An announcement's messages are outbox rows (:mod:`bot.outbox`, campaign
``announcement:<id>``), queued when it starts and sent by the outbox engine, paced with every
other send. :class:`BroadcastDesk` watches each announcement being sent: every
``STATUS_EVERY`` seconds it reads the campaign's counts, edits the staff member's status
message (an outbox row too, edited in place), and once no message is waiting marks the
announcement done and queues the report, with a button to resend to the failed ones. Any
instance may watch: the edits and the report are keyed, so they go out once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.ext import Application

from bot.announcements.service import CANCELLED, SENDING, AnnouncementView, Progress, campaign_of
from bot.context import PlumeApplication
from bot.i18n import Np_, Translator, translator
from bot.outbox import URGENT, enqueue, message_payload
from handlers.shared.common import button, escape, keyboard

log = logging.getLogger(__name__)

UNSUBSCRIBE: Final = "Un:"
#: kept apart: Babel extracts a t.tn(...) written inside a list as a lone singular
REACHED: Final = Np_(
    "Announcement #{id} is sent: {count} person reached in {duration}.",
    "Announcement #{id} is sent: {count} people reached in {duration}.",
)
CARD: Final = "An:"
STATUS_EVERY: float = 3.0  # seconds between two edits of the status message
RATE_WINDOW: Final = 20.0


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


def resend_keyboard(t: Translator, announcement_id: int, failed: int) -> InlineKeyboardMarkup:
    label = t.tn(
        "🔁 Resend to the {n} failed recipient",
        "🔁 Resend to the {n} failed recipients",
        failed,
        n=failed,
    )
    return keyboard([[button(label, f"{CARD}rf:{announcement_id}")]])


class BroadcastDesk:
    """The broadcasts this instance watches (their messages are the outbox's)."""

    def __init__(self, application: PlumeApplication) -> None:
        self.application = application
        self._tasks: dict[int, asyncio.Task[None]] = {}

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.application.services

    def is_running(self, announcement_id: int) -> bool:
        return announcement_id in self._tasks

    def start(self, announcement_id: int) -> bool:
        """Watches an announcement being sent (``sending`` in the database)."""
        if announcement_id in self._tasks:
            return False
        self.services.outbox.wake()
        task = asyncio.create_task(self._run(announcement_id))
        self._tasks[announcement_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(announcement_id, None))
        return True

    async def cancel(self, announcement_id: int) -> AnnouncementView | None:
        """Cancels it; the messages not yet sent are cancelled in the same transaction."""
        return await self.services.announcements.cancel(announcement_id)  # type: ignore[no-any-return]

    async def stop_all(self) -> None:
        """At shutdown: the watchers stop (they hold nothing; the outbox keeps the work)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, announcement_id: int) -> None:
        while True:
            try:
                await self._watch(announcement_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database away: watch again in a moment
                log.warning("announcement %s: watching again after %s", announcement_id, error)
                await asyncio.sleep(STATUS_EVERY)

    async def _watch(self, announcement_id: int) -> None:
        services = self.services
        announcements, outbox = services.announcements, services.outbox
        campaign = campaign_of(announcement_id)
        announcement = await announcements.get(announcement_id)
        if announcement is None or announcement.state != SENDING:
            return
        status = _Status(self, announcement)
        await status.open()
        marks: list[tuple[float, int]] = []
        while True:
            progress = Progress.of(await outbox.counts(campaign))
            now = time.monotonic()
            marks.append((now, progress.settled))
            while len(marks) > 2 and marks[0][0] < now - RATE_WINDOW:
                marks.pop(0)
            current = await announcements.get(announcement_id)
            state = current.state if current is not None else CANCELLED
            if state not in (SENDING, CANCELLED):  # done: another instance closed it
                return
            if progress.finished:
                await self._close(status, announcement_id, state)
                return
            if state == CANCELLED:
                # the sends claimed before the cancel settle (cancelled by the engine, or sent
                # if already under way; one that failed may have come back to the queue)
                await outbox.cancel_campaign(campaign)
                await asyncio.sleep(0.25)
                continue
            (t0, n0), (t1, n1) = marks[0], marks[-1]
            rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
            left = progress.waiting / rate if rate > 0 else None
            elapsed = await outbox.span(campaign)
            await status.show(
                status_text(status.t, announcement_id, progress, state, elapsed, left)
            )
            await asyncio.sleep(STATUS_EVERY)

    async def _close(self, status: _Status, announcement_id: int, state: str) -> None:
        services = self.services
        announcements, outbox = services.announcements, services.outbox
        campaign = campaign_of(announcement_id)
        closed = await announcements.finish(announcement_id)
        if closed is None:
            return  # a message was queued again meanwhile: keep watching next time
        progress = Progress.of(await outbox.counts(campaign))
        elapsed = await outbox.span(campaign)
        text = status_text(status.t, announcement_id, progress, closed.state, elapsed)
        await status.show(text, final=True)
        if closed.state == CANCELLED:
            return
        errors = await outbox.errors(campaign)
        await status.report(
            report_text(status.t, announcement_id, progress, elapsed, errors),
            resend_keyboard(status.t, announcement_id, progress.failed)
            if progress.failed
            else None,
            key=f"{campaign}:report:{progress.sent}:{progress.failed}:{progress.unreachable}",
        )
        log.info(
            "announcement %s sent: %d sent, %d failed, %d unreachable in %.1f s",
            announcement_id,
            progress.sent,
            progress.failed,
            progress.unreachable,
            elapsed,
        )


class _Status:
    """The staff member's status message of one broadcast (an outbox row edited in place)."""

    def __init__(self, desk: BroadcastDesk, announcement: AnnouncementView) -> None:
        self.desk = desk
        self.announcement = announcement
        self.chat_id = announcement.status_chat_id
        self.message_id = announcement.status_message_id
        self.t = translator(desk.services.settings.default_locale)
        self._last_text = ""
        self._key = f"{campaign_of(announcement.id)}:status"

    async def open(self) -> None:
        """The staff member's language; a new status message when none exists (a scheduled
        announcement: its card was long ago)."""
        services = self.desk.services
        author = (
            await services.users.get_by_id(self.announcement.author_id)
            if self.announcement.author_id
            else None
        )
        if author is not None:
            self.t = translator(author.language)
            if self.chat_id is None:
                self.chat_id = author.telegram_id
        if self.chat_id is not None and self.message_id is None:
            await services.outbox.notify(
                "status",
                self.chat_id,
                self.t("📣 <b>Announcement #{id}</b>: sending…", id=self.announcement.id),
                reply_markup=self._cancel_markup().to_dict(),
                dedupe_key=f"{self._key}:open",
                priority=URGENT,
            )

    def _cancel_markup(self) -> InlineKeyboardMarkup:
        data = f"{CARD}x:{self.announcement.id}"
        return keyboard([[button(self.t("✖ Cancel the sending"), data)]])

    async def _find_message(self) -> None:
        if self.message_id is not None or self.chat_id is None:
            return
        services = self.desk.services
        current = await services.announcements.get(self.announcement.id)
        if current is not None and current.status_message_id is not None:
            self.message_id = current.status_message_id
            return
        sent = await services.outbox.sent_message(f"{self._key}:open")
        if sent is not None:
            self.message_id = sent
            await services.announcements.set_status_message(
                self.announcement.id, self.chat_id, sent
            )

    async def show(self, text: str, *, final: bool = False) -> None:
        await self._find_message()
        if self.chat_id is None or self.message_id is None or text == self._last_text:
            return
        markup = None if final else self._cancel_markup().to_dict()
        services = self.desk.services
        for _ in range(40 if final else 1):
            async with services.sessions.begin() as session:
                queued = await enqueue(
                    session,
                    kind="status",
                    chat_id=self.chat_id,
                    method="editMessageText",
                    payload=message_payload(text, reply_markup=markup, message_id=self.message_id),
                    dedupe_key=self._key,
                    replace=True,
                    priority=URGENT,
                )
            services.outbox.wake()
            if queued:
                self._last_text = text
                return
            await asyncio.sleep(0.25)  # the previous edit is under way

    async def report(self, text: str, markup: InlineKeyboardMarkup | None, *, key: str) -> None:
        """The final report, a new message (so the staff member is notified)."""
        if self.chat_id is None:
            return
        await self.desk.services.outbox.notify(
            "report",
            self.chat_id,
            text,
            reply_markup=markup.to_dict() if markup is not None else None,
            dedupe_key=key,
            priority=URGENT,
        )


def desk(application: Application) -> BroadcastDesk:  # type: ignore[type-arg]
    """The application's desk (created on first use)."""
    found = application.bot_data.get(BroadcastDesk)
    if found is None:
        found = application.bot_data[BroadcastDesk] = BroadcastDesk(application)  # type: ignore[arg-type]
    return found  # type: ignore[no-any-return]
