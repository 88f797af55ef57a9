"""Pacing of bulk sends to Telegram's limits (broadcasts, reminders).

Telegram allows about 30 messages per second overall, one per second in a private chat and
20 per minute in a group; paid broadcasts (``allow_paid_broadcast``) up to 1,000 per second.
:meth:`Throttle.acquire` hands out send slots so that no sliding second holds more than
``per_second`` of them (a little under Telegram's figure, to absorb network jitter), spaced
at least ``1 / (per_second + 1)`` apart so they never come in a burst; :meth:`Throttle.hold`
stops every sender after a 429 ``retry_after``; :meth:`Throttle.refund` takes back a slot
whose request Telegram did not count (a 5xx, a blocked user), so the pace of messages that
count stays at ``per_second``. A sender waiting for its own chat (one message per second)
waits before reserving a slot, so it never holds up the senders to other chats.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

OVERALL_PER_SECOND = 29.0
PAID_PER_SECOND = 950.0
PRIVATE_CHAT_INTERVAL = 1.0
GROUP_CHAT_INTERVAL = 3.0  # 20 per minute
WINDOW_SECONDS = 1.0
_PRUNE_ABOVE = 10_000


class _Lane:
    """Slots of one kind (ordinary or paid sends): spaced, and capped per sliding second."""

    __slots__ = ("cap", "gap", "next", "slots")

    def __init__(self, per_second: float) -> None:
        self.cap = max(1, int(per_second))
        self.gap = 1.0 / (per_second + 1.0)
        self.next = 0.0
        self.slots: deque[float] = deque()

    def reserve(self, earliest: float) -> float:
        slots = self.slots
        while slots and slots[0] <= earliest - 2 * WINDOW_SECONDS:
            slots.popleft()
        slot = max(earliest, self.next)
        if len(slots) >= self.cap:
            slot = max(slot, slots[-self.cap] + WINDOW_SECONDS)
        slots.append(slot)
        self.next = slot + self.gap
        return slot

    def refund(self, slot: float | None) -> None:
        if not self.slots:
            return
        if slot is None:
            self.slots.pop()
            return
        try:
            self.slots.remove(slot)
        except ValueError:
            pass  # already out of the window

    def pause_until(self, until: float) -> None:
        self.next = max(self.next, until)


class Throttle:
    def __init__(
        self,
        per_second: float = OVERALL_PER_SECOND,
        paid_per_second: float = PAID_PER_SECOND,
        private_interval: float = PRIVATE_CHAT_INTERVAL,
        group_interval: float = GROUP_CHAT_INTERVAL,
    ) -> None:
        self._lane = _Lane(per_second)
        self._paid_lane = _Lane(paid_per_second)
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._hold_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._turns = {False: asyncio.Lock(), True: asyncio.Lock()}

    async def acquire(self, chat_id: int, *, paid: bool = False) -> float:
        """Waits for this chat's turn and an overall slot; returns the slot (for refund)."""
        lane = self._paid_lane if paid else self._lane
        interval = self._group_interval if chat_id < 0 else self._private_interval
        while True:
            now = time.monotonic()
            ready = max(self._hold_until, self._chat_next.get(chat_id, 0.0))
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            async with self._turns[paid]:  # one reservation at a time, just in time:
                now = time.monotonic()  # it sees every refund made so far
                if self._chat_next.get(chat_id, 0.0) > now:
                    continue
                slot = lane.reserve(now)
                self._chat_next[chat_id] = slot + interval
                if len(self._chat_next) > _PRUNE_ABOVE:
                    self._prune(now)
                if slot > now:
                    await asyncio.sleep(slot - now)
            if time.monotonic() >= self._hold_until:
                return slot
            # a 429 arrived while we waited: give the slot back, queue again behind the pause
            lane.refund(slot)
            self._chat_next[chat_id] = 0.0

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
