"""The broadcast desk: watches each announcement being sent, from the staff's side.

An announcement's messages are outbox rows (:mod:`bot.outbox`, campaign
``announcement:<id>``), queued when it starts and sent by the outbox engine, paced with every
other send. :class:`BroadcastDesk` watches each announcement being sent: every
``status_every`` seconds it reads the campaign's counts, edits the staff member's status
message (an outbox row too, edited in place), and once no message is waiting marks the
announcement done and queues the report, with a button to resend to the failed ones. Any
instance may watch: the edits and the report are keyed, so they go out once.

Built by ``bot.app`` (one per application, ``context.broadcasts``); the words and buttons
come from ``rendering`` (``handlers.announcements.progress``). Nothing here imports telegram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from bot.announcements.service import CANCELLED, SENDING, AnnouncementView, Progress, campaign_of
from bot.i18n import Translator, translator
from bot.outbox import URGENT, enqueue, message_payload

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

STATUS_EVERY = 3.0  # seconds between two edits of the status message, by default
RATE_WINDOW = 20.0


class DeskRendering(Protocol):
    """What the staff member reads: texts, and buttons as Bot API ``reply_markup`` dicts."""

    def opening_text(self, t: Translator, announcement_id: int) -> str: ...

    def status_text(
        self,
        t: Translator,
        announcement_id: int,
        progress: Progress,
        state: str,
        elapsed: float,
        seconds_left: float | None = None,
    ) -> str: ...

    def report_text(
        self,
        t: Translator,
        announcement_id: int,
        progress: Progress,
        elapsed: float,
        errors: list[tuple[str, int]],
    ) -> str: ...

    def cancel_markup(self, t: Translator, announcement_id: int) -> dict[str, Any]: ...

    def resend_markup(
        self, t: Translator, announcement_id: int, failed: int
    ) -> dict[str, Any]: ...


class BroadcastDesk:
    """The broadcasts this instance watches (their messages are the outbox's)."""

    def __init__(
        self, services: Services, rendering: DeskRendering, status_every: float = STATUS_EVERY
    ) -> None:
        self.services = services
        self.rendering = rendering
        #: seconds between two edits of the status message
        self.status_every = status_every
        self._tasks: dict[int, asyncio.Task[None]] = {}

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
        return await self.services.announcements.cancel(announcement_id)

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
                await asyncio.sleep(self.status_every)

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
            text = self.rendering.status_text(
                status.t, announcement_id, progress, state, elapsed, left
            )
            await status.show(text)
            await asyncio.sleep(self.status_every)

    async def _close(self, status: _Status, announcement_id: int, state: str) -> None:
        services = self.services
        announcements, outbox = services.announcements, services.outbox
        campaign = campaign_of(announcement_id)
        closed = await announcements.finish(announcement_id)
        if closed is None:
            return  # a message was queued again meanwhile: keep watching next time
        progress = Progress.of(await outbox.counts(campaign))
        elapsed = await outbox.span(campaign)
        render = self.rendering
        text = render.status_text(status.t, announcement_id, progress, closed.state, elapsed)
        await status.show(text, final=True)
        if closed.state == CANCELLED:
            return
        errors = await outbox.errors(campaign)
        await status.report(
            render.report_text(status.t, announcement_id, progress, elapsed, errors),
            render.resend_markup(status.t, announcement_id, progress.failed)
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
                self.desk.rendering.opening_text(self.t, self.announcement.id),
                reply_markup=self._cancel_markup(),
                dedupe_key=f"{self._key}:open",
                priority=URGENT,
            )

    def _cancel_markup(self) -> dict[str, Any]:
        return self.desk.rendering.cancel_markup(self.t, self.announcement.id)

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
        markup = None if final else self._cancel_markup()
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

    async def report(self, text: str, markup: dict[str, Any] | None, *, key: str) -> None:
        """The final report, a new message (so the staff member is notified)."""
        if self.chat_id is None:
            return
        await self.desk.services.outbox.notify(
            "report",
            self.chat_id,
            text,
            reply_markup=markup,
            dedupe_key=key,
            priority=URGENT,
        )
