"""A hostile network on demand: Telegram's rate limits, blocked users and flaky transport.

Everything is off by default. A ``Faults`` instance belongs to one stand-in and may be changed
while it runs (``api.faults.rate_limits = True``, ``api.faults.blocked.add(1001)``).

Rate limits (when ``rate_limits`` is on) count the *sending* methods, see ``SENDING_METHODS``:
every ``send*`` except ``sendChatAction``, ``copyMessage(s)``, ``forwardMessage(s)`` and every
``edit*``. Each successful sending call takes one slot in sliding windows:

* overall: 30 per second (``overall_rate``); a call with ``allow_paid_broadcast=true`` is checked
  against ``paid_broadcast_rate`` (1000 per second) instead, all sends counting in both windows;
* per private chat (positive chat id): 1 per second (``private_chat_rate``);
* per group chat (negative chat id): 20 per minute (``group_chat_rate``).

A call that finds a window full gets 429 with ``retry_after`` = whole seconds until a slot frees
(at least 1), as Telegram does. Refused calls take no slot.

Random faults (``server_error_rate`` answers 502 Bad Gateway, ``drop_rate`` closes the
connection without an answer, ``latency`` + uniform ``jitter`` seconds delay) all draw from one
``random.Random(seed)``, so a run is reproducible for a given sequence of calls. They spare the
methods in ``spared_methods`` (by default the bootstrap and polling calls, so a test of a flaky
``sendMessage`` does not also slow PTB's polling loop down); set it to ``frozenset()`` to hit
everything.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
    }
)

DEFAULT_SPARED_METHODS = frozenset({"getMe", "getUpdates", "deleteWebhook", "setWebhook"})


class RateWindow:
    """At most ``limit`` events in any ``period`` seconds (sliding window of timestamps)."""

    __slots__ = ("_times", "limit", "period")

    def __init__(self, limit: int, period: float):
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.period
        times = self._times
        while times and times[0] <= horizon:
            times.popleft()

    def wait_time(self, now: float, limit: int | None = None) -> float:
        """Seconds until one more event fits under ``limit`` (default: the window's own)."""
        self._expire(now)
        cap = self.limit if limit is None else limit
        excess = len(self._times) - cap
        if excess < 0:
            return 0.0
        return self._times[excess] + self.period - now

    def add(self, now: float) -> None:
        self._times.append(now)

    def __len__(self) -> int:
        return len(self._times)


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait - 1e-9))


@dataclass
class RateLimits:
    """The windows of one stand-in; ``check`` gives the wait for a send, ``record`` books it."""

    overall: tuple[int, float]
    paid_broadcast: tuple[int, float]
    private_chat: tuple[int, float]
    group_chat: tuple[int, float]
    _all_sends: RateWindow = field(init=False)
    _per_chat: dict[int | str, RateWindow] = field(init=False, default_factory=dict)
    _records_since_sweep: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        period = max(self.overall[1], self.paid_broadcast[1])
        self._all_sends = RateWindow(max(self.overall[0], self.paid_broadcast[0]), period)

    def _chat_window(self, chat_id: int | str) -> RateWindow:
        window = self._per_chat.get(chat_id)
        if window is None:
            is_private = isinstance(chat_id, int) and chat_id > 0
            limit, period = self.private_chat if is_private else self.group_chat
            window = self._per_chat[chat_id] = RateWindow(limit, period)
        return window

    def check(self, now: float, chat_id: int | str | None, paid: bool) -> float:
        limit, period = self.paid_broadcast if paid else self.overall
        wait = self._overall_wait(now, limit, period)
        if chat_id is not None:
            wait = max(wait, self._chat_window(chat_id).wait_time(now))
        return wait

    def _overall_wait(self, now: float, limit: int, period: float) -> float:
        window = self._all_sends
        if period == window.period:
            return window.wait_time(now, limit)
        recent = [t for t in window._times if t > now - period]
        if len(recent) < limit:
            return 0.0
        return recent[len(recent) - limit] + period - now

    def record(self, now: float, chat_id: int | str | None) -> None:
        self._all_sends.add(now)
        if chat_id is not None:
            self._chat_window(chat_id).add(now)
        self._records_since_sweep += 1
        if self._records_since_sweep >= 5000:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Forgets idle chats so that a 100k-chat broadcast does not keep 100k windows."""
        self._records_since_sweep = 0
        for chat_id in list(self._per_chat):
            window = self._per_chat[chat_id]
            if window.wait_time(now) == 0 and len(window) == 0:
                del self._per_chat[chat_id]


@dataclass
class Faults:
    """Fault injection settings of one stand-in (all off by default)."""

    rate_limits: bool = False
    overall_rate: tuple[int, float] = (30, 1.0)
    paid_broadcast_rate: tuple[int, float] = (1000, 1.0)
    private_chat_rate: tuple[int, float] = (1, 1.0)
    group_chat_rate: tuple[int, float] = (20, 60.0)
    blocked: set[int] = field(default_factory=set)
    deactivated: set[int] = field(default_factory=set)
    server_error_rate: float = 0.0
    drop_rate: float = 0.0
    latency: float = 0.0
    jitter: float = 0.0
    seed: int = 0
    spared_methods: frozenset[str] = DEFAULT_SPARED_METHODS
    rng: random.Random = field(init=False, repr=False)
    limits: RateLimits = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.reset_limits()

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def reset_limits(self) -> None:
        """Empties the rate windows (and applies changed ``*_rate`` settings)."""
        self.limits = RateLimits(
            overall=self.overall_rate,
            paid_broadcast=self.paid_broadcast_rate,
            private_chat=self.private_chat_rate,
            group_chat=self.group_chat_rate,
        )

    def applies_random_faults(self, method: str) -> bool:
        return method not in self.spared_methods

    def delay(self) -> float:
        if self.latency <= 0 and self.jitter <= 0:
            return 0.0
        return self.latency + (self.rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)

    def draw_drop(self) -> bool:
        return self.drop_rate > 0 and self.rng.random() < self.drop_rate

    def draw_server_error(self) -> bool:
        return self.server_error_rate > 0 and self.rng.random() < self.server_error_rate
