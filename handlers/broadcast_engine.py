"""Running broadcasts inside the bot: rendering, pacing, the staff's status message.

:class:`BroadcastDesk` owns the running :class:`~bot.broadcaster.Broadcaster` of each
announcement being sent (one at a time per announcement). Every message goes through
:func:`handlers.delivery.deliver` with ``services.throttle`` on the bulk bot, so broadcasts,
reminders and the status edits share one pace. The staff member's status message is edited
every ``STATUS_EVERY`` seconds (edits count against Telegram's limits too) and ends with the
final report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import warnings
from typing import Final

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.announcements import CANCELLED, SENDING, AnnouncementView
from bot.broadcaster import Broadcaster, Progress
from bot.context import PlumeApplication
from bot.i18n import Translator, translator
from handlers.common import button, escape, keyboard
from handlers.delivery import Delivered, deliver

log = logging.getLogger(__name__)

UNSUBSCRIBE: Final = "Un:"
CARD: Final = "An:"
#: concurrent sends: enough to keep the pace whatever the round trip (≈ rate × latency)
WINDOW: Final = 16
PAID_WINDOW: Final = 96
STATUS_EVERY: float = 3.0  # seconds between two edits of the status message
STOP_TIMEOUT: Final = 5.0


def stop_keyboard(t: Translator, topic: str) -> InlineKeyboardMarkup | None:
    if not topic:
        return None
    return keyboard([[button(t("🔕 Stop these announcements"), f"{UNSUBSCRIBE}{topic}")]])


async def send_announcement(
    bot: Bot,
    chat_id: int,
    announcement: AnnouncementView,
    markup: InlineKeyboardMarkup | None,
    *,
    paid: bool = False,
) -> Message:
    """The announcement exactly as recipients get it (also the staff's preview).

    The text is HTML built by Telegram from the staff member's own message
    (``text_html``), so it is always well formed."""
    extra = {"allow_paid_broadcast": True} if paid else {}
    file_id = announcement.attachment_file_id
    if announcement.attachment_kind == "photo" and file_id:
        return await bot.send_photo(
            chat_id, file_id, caption=announcement.text or None, reply_markup=markup, **extra
        )
    if announcement.attachment_kind == "document" and file_id:
        return await bot.send_document(
            chat_id, file_id, caption=announcement.text or None, reply_markup=markup, **extra
        )
    return await bot.send_message(chat_id, announcement.text, reply_markup=markup, **extra)


def format_duration(t: Translator, seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return t("{hours} h {minutes} min", hours=seconds // 3600, minutes=seconds % 3600 // 60)
    if seconds >= 60:
        return t("{minutes} min {seconds} s", minutes=seconds // 60, seconds=seconds % 60)
    return t("{seconds} s", seconds=seconds)


def status_text(
    t: Translator, announcement_id: int, progress: Progress, state: str, elapsed: float
) -> str:
    if state == CANCELLED:
        head = t("🛑 <b>Announcement #{id}</b>: cancelled.", id=announcement_id)
    elif progress.finished:
        head = t("✅ <b>Announcement #{id}</b>: sent.", id=announcement_id)
    elif progress.stopped:
        head = t(
            "⏸ <b>Announcement #{id}</b>: paused (the bot is restarting; it will resume).",
            id=announcement_id,
        )
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
        if state == CANCELLED and progress.left:
            lines.append(t("Not sent: {left}", left=progress.left))
        lines.append(t("Duration: {duration}", duration=format_duration(t, elapsed)))
    else:
        left = t("Left: {left} of {total}", left=progress.left, total=progress.total)
        remaining = progress.seconds_left
        if remaining is not None:
            left += " · " + t("about {duration} to go", duration=format_duration(t, remaining))
        lines.append(left)
    return "\n".join(lines)


def report_text(t: Translator, announcement_id: int, progress: Progress, elapsed: float) -> str:
    lines = [
        t(
            "Announcement #{id} is sent: {sent} people reached in {duration}.",
            id=announcement_id,
            sent=progress.sent,
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
        worst = sorted(progress.errors.items(), key=lambda item: -item[1])[:5]
        lines += [f"• {escape(reason)} ({count})" for reason, count in worst]
    return "\n".join(lines)


class BroadcastDesk:
    """The broadcasts running in this bot."""

    def __init__(self, application: PlumeApplication) -> None:
        self.application = application
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._broadcasters: dict[int, Broadcaster] = {}

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.application.services

    def is_running(self, announcement_id: int) -> bool:
        return announcement_id in self._tasks

    def start(self, announcement_id: int) -> bool:
        """Starts sending (the announcement must be ``sending`` in the database)."""
        if announcement_id in self._tasks:
            return False
        task = asyncio.create_task(self._run(announcement_id))
        self._tasks[announcement_id] = task

        def forget(_: asyncio.Task[None]) -> None:
            self._tasks.pop(announcement_id, None)
            self._broadcasters.pop(announcement_id, None)

        task.add_done_callback(forget)
        return True

    async def cancel(self, announcement_id: int) -> AnnouncementView | None:
        cancelled = await self.services.announcements.cancel(announcement_id)
        broadcaster = self._broadcasters.get(announcement_id)
        if broadcaster is not None:
            broadcaster.stop()
        return cancelled

    async def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:  # noqa: ASYNC109
        """At shutdown: sends under way finish and are recorded; the rest resumes later."""
        for broadcaster in self._broadcasters.values():
            broadcaster.stop()
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _run(self, announcement_id: int) -> None:
        try:
            await self._send_all(announcement_id)
        except Exception:
            log.exception("announcement %s: the broadcast stopped on an error", announcement_id)

    async def _send_all(self, announcement_id: int) -> None:
        services = self.services
        announcement = await services.announcements.get(announcement_id)
        if announcement is None or announcement.state != SENDING:
            return
        bot = self.application.bulk_bot
        throttle = services.throttle
        paid = announcement.paid
        markups: dict[str, InlineKeyboardMarkup | None] = {}

        def markup_for(language: str) -> InlineKeyboardMarkup | None:
            if language not in markups:
                markups[language] = stop_keyboard(
                    translator(language or services.settings.default_locale), announcement.topic
                )
            return markups[language]

        async def send(recipient) -> Delivered:  # type: ignore[no-untyped-def]
            markup = markup_for(recipient.language)
            return await deliver(
                throttle,
                recipient.chat_id,
                lambda: send_announcement(bot, recipient.chat_id, announcement, markup, paid=paid),
                paid=paid,
            )

        broadcaster = Broadcaster(
            services.announcements,
            announcement_id,
            send,
            window=PAID_WINDOW if paid else WINDOW,
        )
        self._broadcasters[announcement_id] = broadcaster
        status = _Status(self, announcement)
        await status.open()
        began = time.monotonic()
        progress = await broadcaster.run(
            lambda p: status.show(p, SENDING, time.monotonic() - began), STATUS_EVERY
        )
        elapsed = time.monotonic() - began
        if progress.finished:
            await services.announcements.finish(announcement_id)
            await status.show(progress, SENDING, elapsed, final=True)
            await status.report(report_text(status.t, announcement_id, progress, elapsed))
            log.info(
                "announcement %s sent: %d sent, %d failed, %d unreachable in %.1f s",
                announcement_id,
                progress.sent,
                progress.failed,
                progress.unreachable,
                elapsed,
            )
            return
        current = await services.announcements.get(announcement_id)
        if current is not None and current.state == CANCELLED:
            await services.announcements.finish(announcement_id)
            await status.show(progress, CANCELLED, elapsed, final=True)
        else:
            await status.show(progress, SENDING, elapsed, final=True)


class _Status:
    """The staff member's status message of one broadcast (edited in place)."""

    def __init__(self, desk: BroadcastDesk, announcement: AnnouncementView) -> None:
        self.desk = desk
        self.announcement = announcement
        self.chat_id = announcement.status_chat_id
        self.message_id = announcement.status_message_id
        self.t = translator(desk.services.settings.default_locale)
        self._last_text = ""

    async def open(self) -> None:
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
            try:
                message = await self.desk.application.bot.send_message(
                    self.chat_id,
                    self.t("📣 <b>Announcement #{id}</b>: sending…", id=self.announcement.id),
                    reply_markup=self._cancel_markup(),
                )
            except TelegramError as error:
                log.warning("status message of announcement %s: %s", self.announcement.id, error)
                return
            self.message_id = message.message_id
            await services.announcements.set_status_message(
                self.announcement.id, self.chat_id, message.message_id
            )

    def _cancel_markup(self) -> InlineKeyboardMarkup:
        data = f"{CARD}x:{self.announcement.id}"
        return keyboard([[button(self.t("✖ Cancel the sending"), data)]])

    async def show(
        self, progress: Progress, state: str, elapsed: float, *, final: bool = False
    ) -> None:
        if self.chat_id is None or self.message_id is None:
            return
        text = status_text(self.t, self.announcement.id, progress, state, elapsed)
        if text == self._last_text:
            return
        markup = None if final else self._cancel_markup()
        throttle = self.desk.services.throttle
        for _ in range(3 if final else 1):
            # the edit takes its slot from the broadcast's own budget
            slot = await throttle.acquire(self.chat_id)
            try:
                await self.desk.application.bulk_bot.edit_message_text(
                    text, chat_id=self.chat_id, message_id=self.message_id, reply_markup=markup
                )
                self._last_text = text
                return
            except RetryAfter as error:
                # during a paid broadcast, this ordinary edit is refused while the paid
                # sends fill the window: skip it rather than pause the whole broadcast
                if not self.announcement.paid:
                    throttle.hold(_seconds(error))
                if final:
                    await asyncio.sleep(_seconds(error))
            except TelegramError as error:
                if not isinstance(error, TimedOut):  # refused: Telegram did not count it
                    throttle.refund(slot)
                unchanged = isinstance(error, BadRequest) and "not modified" in str(error).lower()
                if not unchanged:
                    log.info("status of announcement %s: %s", self.announcement.id, error)
                return

    async def report(self, text: str) -> None:
        """The final report, a new message (so the staff member is notified)."""
        if self.chat_id is None:
            return
        chat_id = self.chat_id
        bot = self.desk.application.bulk_bot
        await deliver(
            self.desk.services.throttle, chat_id, lambda: bot.send_message(chat_id, text)
        )


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def desk(application: Application) -> BroadcastDesk:  # type: ignore[type-arg]
    """The application's desk (created on first use)."""
    found = application.bot_data.get(BroadcastDesk)
    if found is None:
        found = application.bot_data[BroadcastDesk] = BroadcastDesk(application)  # type: ignore[arg-type]
    return found  # type: ignore[no-any-return]
