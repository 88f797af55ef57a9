"""Sending one bulk message (an announcement, a reminder) and telling how it went.

:func:`deliver` keeps to the :class:`~bot.throttle.Throttle`, waits out 429 ``retry_after``,
retries server errors and timeouts with backoff, and classifies the result: sent, the
recipient is unreachable (blocked the bot, deactivated, chat gone: skip them from now on),
or failed for another reason (kept with the error for the report).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from telegram import Message
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.throttle import Throttle

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_RATE_LIMITED = 10
BACKOFF_SECONDS = 0.5
UNREACHABLE_HINTS = ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty")


class Outcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivered:
    outcome: Outcome
    message_id: int | None = None
    error: str | None = None
    attempts: int = 1


async def deliver(
    throttle: Throttle,
    chat_id: int,
    send: Callable[[], Awaitable[Message]],
    *,
    paid: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
) -> Delivered:
    """Calls ``send`` (one Bot API request to ``chat_id``) until it is settled."""
    attempts = rate_limited = 0
    error = "not sent"
    while attempts < max_attempts:
        slot = await throttle.acquire(chat_id, paid=paid)
        attempts += 1
        try:
            message = await send()
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that the type will change
                warnings.simplefilter("ignore")
                retry_after = exc.retry_after
            seconds = (
                retry_after.total_seconds()
                if isinstance(retry_after, dt.timedelta)
                else float(retry_after)
            )
            throttle.hold(seconds)
            rate_limited += 1
            attempts -= 1  # Telegram asked us to wait: not a failure of this message
            error = f"rate limited ({seconds:g} s)"
            if rate_limited >= MAX_RATE_LIMITED:
                break
        except Forbidden as exc:
            throttle.refund(slot, paid=paid)
            return Delivered(Outcome.UNREACHABLE, error=exc.message[:300], attempts=attempts)
        except BadRequest as exc:
            unreachable = any(hint in exc.message.lower() for hint in UNREACHABLE_HINTS)
            outcome = Outcome.UNREACHABLE if unreachable else Outcome.FAILED
            return Delivered(outcome, error=exc.message[:300], attempts=attempts)
        except NetworkError as exc:  # 5xx, timeouts, dropped connections
            error = exc.message[:300] or type(exc).__name__
            if not isinstance(exc, TimedOut):  # a timed-out request may have been counted
                throttle.refund(slot, paid=paid)
            if attempts < max_attempts:
                await asyncio.sleep(backoff * 2 ** (attempts - 1))
        except TelegramError as exc:
            return Delivered(Outcome.FAILED, error=exc.message[:300], attempts=attempts)
        else:
            return Delivered(Outcome.SENT, message_id=message.message_id, attempts=attempts)
    log.info("giving up on chat %s after %d attempts: %s", chat_id, attempts, error)
    return Delivered(Outcome.FAILED, error=error, attempts=attempts)
