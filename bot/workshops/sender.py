"""The reminder sender: hands the due reminders to the outbox, then waits for the next one.

One timer, armed at the next due time read from the database, runs :meth:`ReminderSender.drain`
and re-arms itself. While it sends, newly due rows are fetched every ``TICK`` seconds;
changes (a new registration, a moved workshop) re-arm it earlier through
``ReminderQueue.on_change``. At most ``CONCURRENCY`` rows are claimed at a time. See
:mod:`bot.workshops.reminders` for the states and the crash rule.

Built by ``bot.app`` and started there; the message of a reminder comes from ``render``
(the chat's wording and buttons live in ``handlers.workshops``). Nothing here imports telegram.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from bot.i18n import Translator, translator
from bot.workshops.reminders import DueMessage, ReminderQueue
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

#: a due reminder → its text and its buttons (a Bot API reply_markup, as a dict)
RenderReminder = Callable[[Translator, DueMessage], tuple[str, dict[str, Any]]]


class ReminderSender:
    """Sends what is due, then re-arms itself at the next due time."""

    BATCH: Final = 200
    LOW_WATER: Final = 40
    CONCURRENCY: Final = 8
    TICK: Final = 0.2
    LINGER: Final = 3.0  # a row due this soon is awaited in the run rather than re-armed
    IDLE_POLL: Final = dt.timedelta(seconds=60)  # also picks up imports and other processes
    RETRY: Final = dt.timedelta(seconds=2)  # after a failure (the database did not answer)

    def __init__(self, services: Services, render: RenderReminder) -> None:
        self.services = services
        self.render = render
        self.queue: ReminderQueue = services.reminders
        self._inflight: set[int] = set()
        self._running = False
        self._again = False
        self._catalogue: str | None = None
        self._started = False
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: dt.datetime | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._sends: set[asyncio.Task[None]] = set()
        self.sent = 0

    async def start(self) -> None:
        await self.queue.recover()
        self._catalogue = await self.queue.catalogue_version()
        await self.queue.resync()
        self._started = True
        self.queue.on_change = self.arm
        self.arm(utcnow())

    async def stop(self) -> None:
        """Plume is stopping: no new claims; the sends under way finish."""
        self._stopping = True
        self.queue.on_change = None
        self._disarm()
        await self._idle.wait()

    async def abandon(self, grace: float) -> None:
        """The stop's bound has passed (the database too slow to answer): the run and the
        sends still under way are cancelled and given ``grace`` seconds to roll back, so that
        none outlives the database engine. A reminder whose hand-over is rolled back is still
        ``pending``: the next start sends it, once."""
        tasks = {task for task in (*self._runs, *self._sends) if not task.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    @property
    def live(self) -> bool:
        return self._started and not self._stopping

    def arm(self, when: dt.datetime) -> None:
        """Runs at ``when`` (now if past), unless running or already due earlier."""
        if self._running:
            self._again = True
            return
        if not self.live:
            return
        when = max(when, utcnow())
        if self._timer is not None and self._timer_at is not None and self._timer_at <= when:
            return
        self._disarm()
        delay = (when - utcnow()).total_seconds()
        self._timer_at = when
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._fire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        task = asyncio.get_running_loop().create_task(self._run(), name="workshop reminders")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def _run(self) -> None:
        if self._running or not self.live:
            self._again = True
            return
        self._running = True
        self._idle.clear()
        try:
            version = await self.queue.catalogue_version()
            if version != self._catalogue:
                self._catalogue = version
                await self.queue.resync()
            await self.drain()
            upcoming = await self.queue.next_due() if self.live else None
        except Exception as error:  # the database away: look again soon, lose nothing
            log.warning("reminders: %s; trying again in %.0f s", error, self.RETRY.total_seconds())
            upcoming = utcnow() + self.RETRY
        finally:
            self._running = False
            self._idle.set()
        if not self.live:
            return
        limit = utcnow() + self.IDLE_POLL
        self.arm(min(upcoming, limit) if upcoming else limit)

    async def drain(self) -> None:
        """Sends every due row; returns when nothing is due within ``LINGER`` seconds."""
        tasks: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(self.CONCURRENCY)
        while self.live:
            self._again = False
            now = utcnow()
            if len(tasks) < self.LOW_WATER:
                batch = await self.queue.fetch_due(now, self.BATCH, self._inflight)
                drops = []
                for message in batch:
                    if self.queue.verdict(message, now, batch) != "send" or not message.reachable:
                        drops.append(message.reminder_id)
                        continue
                    self._inflight.add(message.reminder_id)
                    task = asyncio.create_task(self._send(message, limit))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    self._sends.add(task)
                    task.add_done_callback(self._sends.discard)
                await self.queue.drop(drops)
            if tasks:
                await asyncio.wait(tasks, timeout=self.TICK, return_when=asyncio.FIRST_COMPLETED)
                continue
            upcoming = await self.queue.next_due(self._inflight)
            if upcoming is None:
                break
            wait = (upcoming - utcnow()).total_seconds()
            if wait > self.LINGER and not self._again:
                break
            await asyncio.sleep(min(max(wait, 0.0), self.TICK))
        if tasks:  # stopping: let the claimed ones finish, the others give up
            await asyncio.wait(tasks)

    async def _send(self, message: DueMessage, limit: asyncio.Semaphore) -> None:
        try:
            async with limit:
                await self._deliver(message)
        except Exception:
            log.exception("reminder %s failed", message.reminder_id)
        finally:
            self._inflight.discard(message.reminder_id)

    async def _deliver(self, message: DueMessage) -> None:
        """Claims the row and puts its message in the outbox (one transaction)."""
        if not self.live:
            return
        t = translator(message.language, self.services.settings.timezone)
        text, markup = self.render(t, message)
        if await self.queue.hand_over(message.reminder_id, message.telegram_id, text, markup):
            self.sent += 1
            self.services.outbox.wake()
