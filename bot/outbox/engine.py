"""The engine that drains the outbox: lease, claims, pacing, verdicts, retries, a clean stop.

One :class:`OutboxEngine` per process. It sends only while it holds the drain lease (one
instance at a time, see :mod:`bot.outbox`); two lanes (ordinary sends at 30/s, paid
broadcasts at up to 1,000/s) each claim a little ahead of their ``window`` of concurrent
senders, so few rows are ``sending`` at any moment (the bound on duplicates if the process
dies). Results are buffered and written every ``flush_every`` seconds in one transaction; a
flush that fails (database away) keeps them and tries again, so nothing sent is forgotten
while the process lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.outbox.store import (
    CANCELLED,
    FAILED,
    PENDING,
    SENT,
    UNREACHABLE,
    OutboxStore,
    Outgoing,
    Settled,
)
from bot.outbox.transport import Answer, Transport, Verdict
from bot.throttle import Throttle
from storage.models import utcnow

log = logging.getLogger(__name__)


def instance_name() -> str:
    """host:pid:random, unique per process start (the lease and the claims name it)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class EngineSettings:
    window: int = 16
    paid_window: int = 96
    poll: float = 0.2  # seconds between two looks at the outbox after it was found empty...
    #: ...doubling while it stays empty, up to this (an enqueue on this instance wakes the
    #: engine at once; one on another instance waits for the next look)
    idle_poll: float = 0.8
    flush_every: float = 0.25
    lease_ttl: float = 5.0
    lease_every: float = 1.0
    #: a free or expired lease is taken only after being seen expired this long (so an
    #: instance coming back from a database outage renews its own lease first)
    takeover_after: float = 2.0
    claim_ttl: float = 60.0
    backoff_first: float = 5.0
    backoff_max: float = 600.0
    give_up_after: float = 6 * 3600.0
    #: 429s in a row for one message before it goes back to the queue
    max_rate_limited: int = 8
    #: transient failures in a row before the whole engine pauses (the Bot API is down)
    outage_after: int = 3
    outage_pause_max: float = 30.0


@dataclass
class EngineStats:
    sent: int = 0
    unreachable: int = 0
    failed: int = 0
    retried: int = 0
    rate_limited: int = 0
    requeued_orphans: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _Lane:
    def __init__(self, paid: bool, window: int) -> None:
        self.paid = paid
        self.window = max(1, window)
        self.inflight: dict[int, Outgoing] = {}
        self.freed = asyncio.Event()


class OutboxEngine:
    """Drains the outbox through ``transport``, paced by ``budget`` (shared with replies)."""

    def __init__(
        self,
        store: OutboxStore,
        transport: Transport,
        budget: Throttle,
        *,
        settings: EngineSettings | None = None,
        instance: str | None = None,
        on_campaign_fatal: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.budget = budget
        self.settings = settings or EngineSettings()
        self.instance = instance or instance_name()
        self.stats = EngineStats()
        self.holding = False
        self.database_ok = True
        self._lease_until = 0.0  # monotonic: our lease is good until then
        self._seen_free_since: float | None = None
        self._lanes = [
            _Lane(False, self.settings.window),
            _Lane(True, self.settings.paid_window),
        ]
        self._results: list[Settled] = []
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        self._halt = asyncio.Event()  # the lease keeper and the flusher end their loop
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._senders: set[asyncio.Task[None]] = set()
        #: the senders whose request is on its way to Telegram (never cancelled at stop)
        self._calling: set[asyncio.Task[Any]] = set()
        #: the latest send task of each chat: a chat's rows leave in the order claimed
        self._chat_tail: dict[int, asyncio.Task[None]] = {}
        self._paused_until = 0.0
        self._transient_streak = 0
        self._outage_pause = 1.0
        self._fatal: dict[str, str] = {}  # campaign → the refusal
        #: campaigns of rows in flight that were cancelled meanwhile (their rows not sent)
        self._cancelled: set[str] = set()
        self.on_campaign_fatal = on_campaign_fatal

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        self._stopping = False
        self._halt.clear()
        self._tasks = [
            asyncio.create_task(self._keep_lease(), name="outbox-lease"),
            asyncio.create_task(self._flusher(), name="outbox-flush"),
            *(
                asyncio.create_task(self._drain(lane), name=f"outbox-drain-{lane.paid}")
                for lane in self._lanes
            ),
        ]

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._stopping

    def inflight(self) -> int:
        return sum(len(lane.inflight) for lane in self._lanes)

    async def stop(self, timeout: float = 6.0) -> None:  # noqa: ASYNC109
        """Stops claiming; requests already on their way to Telegram finish (up to
        ``timeout``), claimed rows not yet sent go back to the queue at once, results are
        written, the lease is given up (another instance takes over at once)."""
        if not self._tasks:
            return
        self._stopping = True
        self._wake.set()
        for lane in self._lanes:
            lane.freed.set()
        drains = [t for t in self._tasks if t.get_name().startswith("outbox-drain")]
        await asyncio.gather(*drains, return_exceptions=True)
        # a sender waiting for its turn (the pace, its chat's earlier row) has sent nothing:
        # it stops now and its row goes back. A sender whose request is on its way is never
        # cancelled: Telegram may already have the message, and the row put back would be
        # sent a second time by the next instance (a rolling restart doubling a message).
        waiting = {task for task in self._senders if task not in self._calling}
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.wait(waiting, timeout=1.0)
        calling = set(self._calling)
        if calling:
            _, late = await asyncio.wait(calling, timeout=timeout)
            if late:  # Telegram holds them past the bound: back to the queue (maybe twice)
                log.warning("outbox: %d sends still unanswered at stop: queued again", len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=1.0)
        # anything still claimed but not settled (cancelled mid-wait) goes back
        for lane in self._lanes:
            for row in list(lane.inflight.values()):
                self._settle(row, PENDING, released=True)
            lane.inflight.clear()
        # the lease keeper and the flusher end their loop between two transactions: one
        # cancelled inside a statement could leave its connection (and SQLite's write lock)
        # to the garbage collector, every other writer waiting on it
        self._halt.set()
        self._flushed.set()
        _, late = await asyncio.wait(self._tasks, timeout=2.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        # what was sent must be written down, or the next instance sends it again: the
        # database may be busy (another instance starting on the same SQLite file)
        written_by = time.monotonic() + 2.0
        while not await self._flush() and time.monotonic() < written_by:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        if self.holding:
            with contextlib.suppress(Exception):
                await self.store.release_lease(self.instance)
            self.holding = False

    async def abandon(self, grace: float) -> None:
        """:meth:`stop` did not finish within its bound (the database too slow to answer):
        every task of the outbox still running is cancelled and given ``grace`` seconds to
        roll back, so that none outlives the database engine. A row claimed and not recorded
        stays claimed until its claim expires, then goes back to the queue (sent again if
        Telegram had it: the crash rule)."""
        tasks = {t for t in (*self._tasks, *self._senders, *self._calling) if not t.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    # -- the lease -----------------------------------------------------------------------

    async def _keep_lease(self) -> None:
        s = self.settings
        ttl = dt.timedelta(seconds=s.lease_ttl)
        while not self._stopping:
            began = time.monotonic()
            try:
                holder, expires = await self.store.lease_holder()
                if holder is None or holder == self.instance:
                    take = True
                elif expires is None or expires < utcnow():
                    # expired: take it once it has stayed expired for a while
                    if self._seen_free_since is None:
                        self._seen_free_since = began
                    take = began - self._seen_free_since >= s.takeover_after
                else:
                    self._seen_free_since = None
                    take = False
                got = (
                    await self.store.lease(self.instance, ttl, take_expired=True)
                    if take
                    else False
                )
                self._note_database(True)
                if got:
                    self._lease_until = began + s.lease_ttl * 0.8
                    self._seen_free_since = None
                    if not self.holding:
                        self.holding = True
                        requeued = await self.store.requeue_orphans(self.instance)
                        self.stats.requeued_orphans += requeued
                        log.info(
                            "outbox: %s drains the outbox%s",
                            self.instance,
                            f" ({requeued} sends left in flight by another instance are "
                            "queued again)"
                            if requeued
                            else "",
                        )
                        self._wake.set()
                elif self.holding:
                    log.warning("outbox: %s lost the drain lease", self.instance)
                    self.holding = False
            except Exception as error:  # the database is away: keep trying
                self._note_database(False, error)
                if self.holding and time.monotonic() > self._lease_until:
                    self.holding = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._halt.wait(), max(0.05, s.lease_every - (time.monotonic() - began))
                )

    def _note_database(self, ok: bool, error: BaseException | None = None) -> None:
        if ok and not self.database_ok:
            log.warning("outbox: the database is back")
        elif not ok and self.database_ok:
            log.warning("outbox: the database does not answer (%s); waiting for it", error)
        self.database_ok = ok

    def _lease_good(self) -> bool:
        return self.holding and time.monotonic() < self._lease_until

    # -- claiming ------------------------------------------------------------------------

    async def _drain(self, lane: _Lane) -> None:
        s = self.settings
        low_water = max(1, lane.window // 2)
        empty_looks = 0
        while not self._stopping:
            if not self._lease_good():
                await self._idle(s.poll)
                continue
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await self._idle(pause)
                continue
            free = lane.window * 2 - len(lane.inflight)
            if free < low_water:
                lane.freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lane.freed.wait(), s.poll)
                continue
            try:
                batch = await self.store.claim(
                    self.instance,
                    free,
                    paid=lane.paid,
                    ttl=dt.timedelta(seconds=s.claim_ttl),
                )
                blocked = await self.store.unreachable_among(r.chat_id for r in batch)
                self._cancelled = await self.store.cancelled_among(
                    {r.campaign for ln in self._lanes for r in ln.inflight.values() if r.campaign}
                    | {r.campaign for r in batch if r.campaign}
                )
                self._note_database(True)
            except Exception as error:
                self._note_database(False, error)
                await self._idle(1.0)
                continue
            if not batch:
                if await self._idle(min(s.idle_poll, s.poll * 2**empty_looks)):
                    empty_looks = 0  # something was enqueued here
                else:
                    empty_looks = min(empty_looks + 1, 8)
                continue
            empty_looks = 0
            for row in batch:
                lane.inflight[row.id] = row
                if row.chat_id in blocked:
                    self._settle(row, UNREACHABLE, error="unreachable since an earlier send")
                    continue
                task = asyncio.create_task(self._send(lane, row, self._chat_tail.get(row.chat_id)))
                self._chat_tail[row.chat_id] = task
                self._senders.add(task)
                task.add_done_callback(self._forget_sender)

    async def _idle(self, seconds: float) -> bool:
        """Waits ``seconds`` or until woken; True when woken."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.01, seconds))
        except TimeoutError:
            return False
        return True

    # -- sending one row -----------------------------------------------------------------

    def _forget_sender(self, task: asyncio.Task[None]) -> None:
        self._senders.discard(task)
        for chat_id, tail in list(self._chat_tail.items()):
            if tail is task:
                del self._chat_tail[chat_id]
                break

    async def _send(
        self, lane: _Lane, row: Outgoing, after: asyncio.Task[None] | None = None
    ) -> None:
        try:
            if after is not None and not after.done():
                await asyncio.wait([after])  # the chat's earlier row first
            await self._send_one(lane, row)
        except asyncio.CancelledError:
            if row.id in lane.inflight:
                self._settle(row, PENDING, released=True)
            raise
        except Exception as error:  # a bug must not stop the other rows
            log.exception("outbox row %s failed", row.id)
            self._settle(row, FAILED, error=f"{type(error).__name__}: {error}")

    async def _send_one(self, lane: _Lane, row: Outgoing) -> None:
        s = self.settings
        rate_limited = 0
        while True:
            if row.campaign and row.campaign in self._cancelled:
                self._settle(row, CANCELLED)
                return
            if self._stopping or (row.campaign and row.campaign in self._fatal):
                if row.campaign and row.campaign in self._fatal:
                    self._settle(row, FAILED, error=self._fatal[row.campaign])
                else:
                    self._settle(row, PENDING, released=True)
                return
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            slot = await self.budget.acquire(row.chat_id, paid=lane.paid)
            if self._stopping or (
                row.campaign and (row.campaign in self._fatal or row.campaign in self._cancelled)
            ):
                self.budget.refund(slot, paid=lane.paid)
                continue  # settled at the top of the loop
            me = asyncio.current_task()
            if me is not None:
                self._calling.add(me)
            try:
                answer = await self.transport.call(row.method, row.chat_id, row.payload)
            finally:
                if me is not None:
                    self._calling.discard(me)
            verdict = answer.verdict
            self.stats.count(verdict.value)
            if verdict is not Verdict.TRANSIENT:
                self._transient_streak = 0
                self._outage_pause = 1.0
            if verdict is Verdict.SENT:
                self.stats.sent += 1
                self._settle(row, SENT, message_id=answer.message_id)
                return
            if verdict is Verdict.RATE_LIMITED:
                self.budget.hold(answer.retry_after)
                self.stats.rate_limited += 1
                rate_limited += 1
                if rate_limited < s.max_rate_limited:
                    continue
                self._retry_later(row, answer)
                return
            if not answer.counted:
                self.budget.refund(slot, paid=lane.paid)
            if verdict is Verdict.UNREACHABLE:
                self.stats.unreachable += 1
                self._settle(row, UNREACHABLE, error=answer.error)
                return
            if verdict is Verdict.CAMPAIGN_FATAL:
                self.stats.failed += 1
                self._settle(row, FAILED, error=answer.error)
                if row.campaign:
                    await self._fail_campaign(row.campaign, answer.error or "refused")
                return
            if verdict is Verdict.REFUSED:
                self.stats.failed += 1
                log.info("outbox row %s (%s) refused: %s", row.id, row.kind, answer.error)
                self._settle(row, FAILED, error=answer.error)
                return
            # transient: the row goes back with backoff; many in a row pause the engine
            self._transient_streak += 1
            if self._transient_streak >= s.outage_after:
                until = time.monotonic() + self._outage_pause
                if until > self._paused_until:
                    if self._outage_pause >= 4:
                        log.warning(
                            "outbox: the Bot API keeps failing (%s); pausing %.0f s",
                            answer.error,
                            self._outage_pause,
                        )
                    self._paused_until = until
                    self._outage_pause = min(s.outage_pause_max, self._outage_pause * 2)
            self._retry_later(row, answer)
            return

    def _retry_later(self, row: Outgoing, answer: Answer) -> None:
        s = self.settings
        age = (utcnow() - row.created_at).total_seconds()
        if age > s.give_up_after:
            self.stats.failed += 1
            reason = f"gave up after {row.attempts} attempts: {answer.error}"
            self._settle(row, FAILED, error=reason)
            return
        self.stats.retried += 1
        delay = min(s.backoff_max, s.backoff_first * 2 ** max(0, row.attempts - 1))
        self._settle(
            row,
            PENDING,
            error=answer.error,
            not_before=utcnow() + dt.timedelta(seconds=delay),
        )

    async def _fail_campaign(self, campaign: str, error: str) -> None:
        if campaign in self._fatal:
            return
        self._fatal[campaign] = error
        log.warning("outbox: campaign %s refused by Telegram (%s): failing it", campaign, error)
        for _ in range(30):
            try:
                await self.store.fail_campaign(campaign, error)
                break
            except Exception:
                await asyncio.sleep(1.0)
        if self.on_campaign_fatal is not None:
            self.on_campaign_fatal(campaign, error)

    def _settle(
        self,
        row: Outgoing,
        state: str,
        *,
        error: str | None = None,
        message_id: int | None = None,
        not_before: dt.datetime | None = None,
        released: bool = False,
    ) -> None:
        self._results.append(
            Settled(
                id=row.id,
                kind=row.kind,
                chat_id=row.chat_id,
                ref=row.ref,
                campaign=row.campaign,
                state=state,
                error=error,
                message_id=message_id,
                at=utcnow(),
                not_before=not_before,
                released=released,
            )
        )
        for lane in self._lanes:
            if lane.inflight.pop(row.id, None) is not None:
                lane.freed.set()
        if len(self._results) >= 200:
            self._flushed.set()

    # -- writing results -----------------------------------------------------------------

    async def _flusher(self) -> None:
        while not self._halt.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), self.settings.flush_every)
            self._flushed.clear()
            if self._halt.is_set():
                return  # the stop writes what is left itself
            if not await self._flush():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._halt.wait(), 1.0)

    async def _flush(self) -> bool:
        """Writes the results so far; they leave the buffer only once written."""
        results = self._results[:]
        if not results:
            return True
        try:
            await self.store.record(results)
        except Exception as error:
            self._note_database(False, error)
            return False
        self._note_database(True)
        del self._results[: len(results)]
        return True

    async def settled(self) -> None:
        """Waits until every result so far is written (tests, benchmarks)."""
        while self._results or self.inflight():  # noqa: ASYNC110  (a test helper)
            await asyncio.sleep(0.05)
