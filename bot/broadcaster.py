"""The sending engine of one announcement: the database queue → N concurrent senders.

A feeder claims pending deliveries in small batches (keyset by id, never the whole audience
in memory) and hands them to ``window`` workers through a bounded queue; each worker sends
one message (the ``send`` callable paces itself to Telegram's limits) and leaves its result
in a buffer that a flusher writes to the database every ``flush_every`` seconds. Claims run
only a little ahead of the sends, so few deliveries are ``sending`` at any moment: that is
the bound on duplicates if the process dies (see :mod:`bot.announcements`).

Telegram-free: ``send`` returns anything with ``outcome`` (``sent``, ``unreachable``,
``failed``), ``error`` and ``attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.announcements import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    UNREACHABLE,
    AnnouncementService,
    Recipient,
    Result,
)
from storage.models import utcnow

log = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 20.0


class Outcome(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...


SendOne = Callable[[Recipient], Awaitable[Outcome]]


@dataclass
class Progress:
    """Where a broadcast stands (what the staff member's status message shows)."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    #: deliveries found ``sending`` at start (a previous run died mid-send): sent again
    requeued: int = 0
    stopped: bool = False
    finished: bool = False
    errors: dict[str, int] = field(default_factory=dict)
    _marks: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    @property
    def settled(self) -> int:
        return self.sent + self.failed + self.unreachable

    @property
    def left(self) -> int:
        return max(0, self.total - self.settled)

    def mark(self, now: float) -> None:
        marks = self._marks
        marks.append((now, self.settled))
        while len(marks) > 2 and marks[0][0] < now - RATE_WINDOW_SECONDS:
            marks.popleft()

    @property
    def rate(self) -> float:
        """Messages settled per second lately (0 until measured)."""
        if len(self._marks) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        rate = self.rate
        return self.left / rate if rate > 0 else None


class Broadcaster:
    """Sends one announcement's pending deliveries; ``stop()`` ends it early (resumable)."""

    def __init__(
        self,
        service: AnnouncementService,
        announcement_id: int,
        send: SendOne,
        *,
        window: int = 16,
        flush_every: float = 0.25,
        flush_above: int = 200,
    ) -> None:
        self.service = service
        self.announcement_id = announcement_id
        self._send = send
        self._window = max(1, window)
        self._flush_every = flush_every
        self._flush_above = flush_above
        self._queue: asyncio.Queue[Recipient | None] = asyncio.Queue(maxsize=self._window)
        self._results: list[Result] = []
        self._stopping = asyncio.Event()
        self._flushed = asyncio.Event()
        self._senders_done = False
        self.progress = Progress()

    def stop(self) -> None:
        """No new sends; those under way finish and are recorded."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(
        self,
        on_progress: Callable[[Progress], Awaitable[None]] | None = None,
        progress_every: float = 3.0,
    ) -> Progress:
        aid = self.announcement_id
        progress = self.progress
        progress.requeued = await self.service.requeue_in_flight(aid)
        if progress.requeued:
            log.warning(
                "announcement %s: %d deliveries were in flight when the bot stopped; "
                "sending them again",
                aid,
                progress.requeued,
            )
        counts = await self.service.counts(aid)
        progress.total = sum(counts.values())
        progress.sent = counts.get(SENT, 0)
        progress.failed = counts.get(FAILED, 0)
        progress.unreachable = counts.get(UNREACHABLE, 0)
        progress.mark(time.monotonic())
        left = counts.get(PENDING, 0) + counts.get(SENDING, 0)
        log.info("announcement %s: %d deliveries to send of %d", aid, left, progress.total)
        workers = [asyncio.create_task(self._worker()) for _ in range(self._window)]
        flusher = asyncio.create_task(self._flusher())
        reporter = (
            asyncio.create_task(self._reporter(on_progress, progress_every))
            if on_progress
            else None
        )
        try:
            await self._feed()
        except BaseException:
            self._stopping.set()
            raise
        finally:
            try:
                for _ in workers:
                    await self._queue.put(None)
                await asyncio.gather(*workers, return_exceptions=True)
            finally:
                for task in workers:
                    task.cancel()
                if reporter is not None:
                    reporter.cancel()
                await asyncio.gather(
                    *workers, *([reporter] if reporter else []), return_exceptions=True
                )
                # the flusher is told to finish, never cancelled: a write cut short would
                # leave its database connection holding the lock (SQLite)
                self._senders_done = True
                self._flushed.set()
                await asyncio.gather(flusher, return_exceptions=True)
                await self._flush()
                await self.service.release(aid)
        progress.stopped = self.stopping
        progress.finished = not self.stopping and progress.left == 0
        progress.mark(time.monotonic())
        return progress

    async def _feed(self) -> None:
        after = 0
        while not self.stopping:
            claim = await self.service.claim(self.announcement_id, after, self._window)
            if claim.last_id is None:
                return
            after = claim.last_id
            self.progress.unreachable += claim.skipped
            for recipient in claim.recipients:
                if self.stopping:
                    return
                await self._queue.put(recipient)

    async def _worker(self) -> None:
        while True:
            recipient = await self._queue.get()
            if recipient is None:
                return
            if self.stopping:
                continue  # left "sending": released to pending at the end
            try:
                outcome = await self._send(recipient)
                state, error, attempts = outcome.outcome, outcome.error, outcome.attempts
            except Exception as exc:  # a bug must not stop the other recipients
                log.exception("sending to %s failed", recipient.chat_id)
                state, error, attempts = FAILED, f"{type(exc).__name__}: {exc}", 1
            state = str(state)
            if state not in (SENT, FAILED, UNREACHABLE):
                state = FAILED
            self._results.append(
                Result(recipient.delivery_id, recipient.user_id, state, attempts, error, utcnow())
            )
            self._count(state, error)
            if len(self._results) >= self._flush_above:
                self._flushed.set()

    def _count(self, state: str, error: str | None) -> None:
        progress = self.progress
        if state == SENT:
            progress.sent += 1
        elif state == UNREACHABLE:
            progress.unreachable += 1
        else:
            progress.failed += 1
            reason = (error or "?")[:80]
            progress.errors[reason] = progress.errors.get(reason, 0) + 1

    async def _flusher(self) -> None:
        while not self._senders_done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), self._flush_every)
            self._flushed.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Writes the results so far; they leave the buffer only once written (a flush
        cancelled half-way loses nothing: the final flush writes them)."""
        results = self._results[:]
        if not results:
            return
        try:
            await self.service.record_results(results)
        except Exception:
            log.exception("could not record %d delivery results; retrying", len(results))
            await asyncio.sleep(1.0)
            return
        del self._results[: len(results)]

    async def _reporter(
        self, on_progress: Callable[[Progress], Awaitable[None]], every: float
    ) -> None:
        while True:
            await asyncio.sleep(every)
            self.progress.mark(time.monotonic())
            try:
                await on_progress(self.progress)
            except Exception:
                log.exception("broadcast progress report failed")
