"""Pacing of bulk sends to Telegram's limits (broadcasts, reminders).

Telegram allows about 30 messages per second overall, one per second in a private chat and
20 per minute in a group; paid broadcasts (``allow_paid_broadcast``) up to 1,000 per second.
:meth:`Throttle.acquire` hands out send slots at those rates (a little under, to absorb
network jitter); :meth:`Throttle.hold` stops every sender after a 429 ``retry_after``.
Slots are reserved in order, so waiting senders are served fairly and never burst.
"""

from __future__ import annotations

import asyncio
import time

OVERALL_PER_SECOND = 29.0
PAID_PER_SECOND = 950.0
PRIVATE_CHAT_INTERVAL = 1.0
GROUP_CHAT_INTERVAL = 3.0  # 20 per minute
_PRUNE_ABOVE = 10_000


class Throttle:
    def __init__(
        self,
        per_second: float = OVERALL_PER_SECOND,
        paid_per_second: float = PAID_PER_SECOND,
        private_interval: float = PRIVATE_CHAT_INTERVAL,
        group_interval: float = GROUP_CHAT_INTERVAL,
    ) -> None:
        self._gap = 1.0 / per_second
        self._paid_gap = 1.0 / paid_per_second
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._next = 0.0
        self._next_paid = 0.0
        self._hold_until = 0.0
        self._chat_next: dict[int, float] = {}

    async def acquire(self, chat_id: int, *, paid: bool = False) -> None:
        """Waits for this chat's turn and an overall slot."""
        while True:
            now = time.monotonic()
            start = max(now, self._hold_until, self._chat_next.get(chat_id, 0.0))
            if paid:
                slot = max(start, self._next_paid)
                self._next_paid = slot + self._paid_gap
            else:
                slot = max(start, self._next)
                self._next = slot + self._gap
            interval = self._group_interval if chat_id < 0 else self._private_interval
            self._chat_next[chat_id] = slot + interval
            if len(self._chat_next) > _PRUNE_ABOVE:
                self._prune(now)
            if slot > now:
                await asyncio.sleep(slot - now)
            if time.monotonic() >= self._hold_until:
                return
            # a 429 arrived while we waited: queue again behind the pause

    def hold(self, seconds: float) -> None:
        """Nobody sends for ``seconds`` (Telegram's ``retry_after``)."""
        until = time.monotonic() + seconds
        self._hold_until = max(self._hold_until, until)
        self._next = max(self._next, until)
        self._next_paid = max(self._next_paid, until)

    def _prune(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
