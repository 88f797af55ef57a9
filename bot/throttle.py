"""Pacing of bulk sends to Telegram's limits (broadcasts, reminders, their status messages).

Telegram allows 30 messages per second overall, one per second in a private chat and 20 per
minute in a group; paid broadcasts (``allow_paid_broadcast``) up to 1,000 per second. Telegram
counts the messages it accepts in sliding windows; so does :class:`Throttle`:

* :meth:`Throttle.acquire` hands out a send slot at the moment the request may leave: no
  sliding window of ``window`` seconds holds more than ``per_second`` slots. The window is
  Telegram's second plus a small margin (``WINDOW_SECONDS``), so that the requests reach
  Telegram at most ``per_second`` to its second even when one of them is delayed a little on
  its way (event loop, network): the pace is ``per_second / window`` (30 / 1.025 = 29.3
  a second).
* Slots are taken when granted (the real time, never a planned one) and spaced at least
  ``window / (per_second * 1.25)`` apart, so they never come in a burst but can catch up on a
  slot given back.
* :meth:`Throttle.refund` gives back a slot whose request Telegram did not count (a 5xx from
  its front, a blocked user): the slot leaves the window at once and the sender waiting for
  the next slot is woken, so every slot of the window goes to a message that counts.
* :meth:`Throttle.hold` stops every sender after a 429 ``retry_after``.
* A sender waiting for its own chat (one message per second) waits before queuing for a slot,
  so it never holds up the senders to other chats; senders queue for slots in FIFO order and
  only the first one watches the clock.

* ``urgent`` senders (the direct replies to patrons) go before everybody else: the first
  urgent sender in its queue takes the next slot, the outbox's senders wait for it. The
  outbox thus yields exactly the slots the replies use.
* :meth:`Throttle.book` counts sends made elsewhere (another instance's replies) in the window;
  while such sends come, ordinary slots leave ``RESERVE`` places in each window for them (they
  reach Telegram some tens of milliseconds before their booking arrives).

Replies and the outbox take their slots from the one ``services.throttle``, so they share
one budget (see :mod:`bot.outbox` for the budget across instances).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

OVERALL_PER_SECOND = 30  # Telegram's limit
PAID_PER_SECOND = 1000  # with allow_paid_broadcast
#: Telegram's second plus a margin for the jitter between our clock and Telegram's arrival
WINDOW_SECONDS = 1.025
#: at up to 1,000 a second the process is busy, its requests leave less evenly: more margin
PAID_WINDOW_SECONDS = 1.05
PRIVATE_CHAT_INTERVAL = 1.0
GROUP_CHAT_INTERVAL = 3.0  # 20 per minute
BURST_FACTOR = 1.25  # slots may come this much faster than the average pace
#: while other instances answer, each window keeps room for this many of their sends...
RESERVE = 2
#: ...until they have sent nothing for this long
RESERVE_SECONDS = 5.0
_PRUNE_ABOVE = 10_000


class _Lane:
    """Slots of one kind (ordinary or paid sends): spaced, and capped per sliding window."""

    __slots__ = ("booked", "cap", "gap", "next", "slots", "urgent", "waiters", "window")

    def __init__(self, per_second: float, window: float) -> None:
        self.cap = max(1, int(per_second))
        self.window = window
        self.gap = window / (self.cap * BURST_FACTOR)
        self.next = 0.0
        self.slots: deque[float] = deque()  # granted, not refunded, in the last window
        #: the first sender of each queue (urgent, ordinary) waiting for the clock
        self.waiters: set[asyncio.Future[None]] = set()
        self.urgent = 0  # urgent senders queuing: the ordinary ones let them pass
        #: when other instances' sends were booked (they may come again any moment)
        self.booked: deque[float] = deque()

    def ready_at(self, now: float, *, urgent: bool = True) -> float:
        """When the next slot may be granted (``<= now``: at once). While other instances
        are answering (sends booked in the last ``RESERVE_SECONDS``), ordinary slots leave
        room in each window for ``RESERVE`` of their sends, which reach Telegram before
        this instance hears of them (their booking then fills that room)."""
        slots = self.slots
        horizon = now - self.window
        while slots and slots[0] <= horizon:
            slots.popleft()
        booked = self.booked
        while booked and booked[0] <= now - RESERVE_SECONDS:
            booked.popleft()
        cap = self.cap
        if booked and not urgent:
            in_window = sum(1 for at in booked if at > horizon)
            cap = max(1, cap - max(0, RESERVE - in_window))
        ready = self.next
        if len(slots) >= cap:
            ready = max(ready, slots[-cap] + self.window)
        return ready

    def take(self, now: float) -> float:
        self.slots.append(now)
        self.next = now + self.gap
        return now

    def refund(self, slot: float | None) -> None:
        if self.slots:
            if slot is None:
                self.slots.pop()
            else:
                try:
                    self.slots.remove(slot)
                except ValueError:
                    return  # already out of the window
        self.wake()

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)

    def pause_until(self, until: float) -> None:
        self.next = max(self.next, until)


class Throttle:
    def __init__(
        self,
        per_second: float = OVERALL_PER_SECOND,
        paid_per_second: float = PAID_PER_SECOND,
        private_interval: float = PRIVATE_CHAT_INTERVAL,
        group_interval: float = GROUP_CHAT_INTERVAL,
        *,
        window: float = WINDOW_SECONDS,
        paid_window: float = PAID_WINDOW_SECONDS,
    ) -> None:
        self._lane = _Lane(per_second, window)
        self._paid_lane = _Lane(paid_per_second, paid_window)
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._hold_until = 0.0
        self._chat_next: dict[int, float] = {}
        # FIFO queues per lane, ordinary and urgent
        self._queues = {
            (paid, urgent): asyncio.Lock() for paid in (False, True) for urgent in (False, True)
        }

    async def acquire(
        self, chat_id: int | None, *, paid: bool = False, urgent: bool = False
    ) -> float:
        """Waits for this chat's turn and an overall slot; returns the slot (for refund).

        ``chat_id`` None: a call to no chat in particular (only the overall limit)."""
        lane = self._paid_lane if paid else self._lane
        interval = (
            0.0
            if chat_id is None
            else self._group_interval
            if chat_id < 0
            else self._private_interval
        )
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            ready = self._chat_next.get(chat_id, 0.0) if chat_id is not None else 0.0
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            if urgent:
                lane.urgent += 1
            try:
                async with self._queues[(paid, urgent)]:  # the first in the queue watches
                    while True:
                        now = time.monotonic()
                        if chat_id is not None and self._chat_next.get(chat_id, 0.0) > now:
                            break  # another send to this chat went first: queue again
                        ready = max(self._hold_until, lane.ready_at(now, urgent=urgent))
                        if ready <= now and (urgent or not lane.urgent):
                            if chat_id is not None and interval:
                                self._chat_next[chat_id] = now + interval
                                if len(self._chat_next) > _PRUNE_ABOVE:
                                    self._prune(now)
                            return lane.take(now)
                        # until the slot frees, or earlier if a slot is given back (or the
                        # urgent senders this one lets pass are served)
                        waiter = loop.create_future()
                        lane.waiters.add(waiter)
                        timer = (
                            loop.call_later(ready - now, _settle, waiter) if ready > now else None
                        )
                        try:
                            await waiter
                        finally:
                            if timer is not None:
                                timer.cancel()
                            lane.waiters.discard(waiter)
            finally:
                if urgent:
                    lane.urgent -= 1
                    lane.wake()

    def book(self, count: int = 1, *, paid: bool = False) -> None:
        """``count`` sends were made just now by someone else (another instance's replies):
        they weigh on the window like our own."""
        lane = self._paid_lane if paid else self._lane
        now = time.monotonic()
        for _ in range(count):
            lane.slots.append(now)
            lane.booked.append(now)

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (Telegram's ``retry_after``)."""
        until = time.monotonic() + seconds
        self._hold_until = max(self._hold_until, until)
        self._lane.pause_until(until)
        self._paid_lane.pause_until(until)

    def refund(self, slot: float | None = None, *, paid: bool = False) -> None:
        """The request of ``slot`` (default: the latest) was refused before Telegram counted
        it (a 502 from its front, a blocked user): it no longer weighs on the pace."""
        (self._paid_lane if paid else self._lane).refund(slot)

    def _prune(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
