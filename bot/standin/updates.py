"""Updates waiting for the bot: served by getUpdates (long polling) or POSTed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .errors import ApiError
from .state import Pulse

logger = logging.getLogger(__name__)

Update = dict[str, Any]

# Update types Telegram leaves out when allowed_updates is not given (or empty).
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def update_type(update: Update) -> str:
    return next(key for key in update if key != "update_id")


def chat_of(update: Update) -> object:
    """The chat an update belongs to (its user for updates without a chat)."""
    payload = update[update_type(update)]
    if not isinstance(payload, dict):
        return update["update_id"]
    chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
    if chat:
        return chat.get("id")
    sender = payload.get("from") or payload.get("user")
    return ("user", sender.get("id")) if sender else update["update_id"]


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
    failed: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class UpdateQueue:
    """Pending updates in order, confirmed by getUpdates' offset or by webhook delivery."""

    def __init__(self, webhook_retry_delay: float = 0.2) -> None:
        self._pending: deque[Update] = deque()
        # Telegram's ids are never reused; a stand-in started later continues above any earlier
        # one (microseconds since the epoch), so a database that outlives it (the sandbox with
        # DATABASE_URL, benchmarks) never mistakes a new update for one it handled already.
        self._last_update_id = time.time_ns() // 1000
        self._arrived = Pulse()
        self._allowed: list[str] | None = None
        self._poll_generation = 0
        self._webhook_retry_delay = webhook_retry_delay
        self.webhook: Webhook | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self._webhook_wake: asyncio.Event | None = None
        #: the longest wait between two delivery attempts of one update (Telegram's is longer)
        self.webhook_max_retry_delay = 2.0

    # -- producing ------------------------------------------------------------------------

    def push(self, kind: str, payload: dict[str, Any]) -> Update | None:
        """Queues an update of type ``kind``; None when the bot's allowed_updates exclude it."""
        if not self._is_allowed(kind):
            return None
        self._last_update_id += 1
        update: Update = {"update_id": self._last_update_id, kind: payload}
        self._pending.append(update)
        self._arrived.fire()
        if self._webhook_wake is not None:
            self._webhook_wake.set()
        return update

    def _is_allowed(self, kind: str) -> bool:
        allowed = self.webhook.allowed_updates if self.webhook else self._allowed
        if allowed:
            return kind in allowed
        return kind not in OPT_IN_UPDATE_TYPES

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def pending(self) -> list[Update]:
        return list(self._pending)

    def drop_pending(self) -> None:
        self._pending.clear()

    # -- long polling ---------------------------------------------------------------------

    def confirm(self, offset: int) -> None:
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()

    async def get_updates(
        self,
        offset: int | None,
        limit: int | None,
        poll_seconds: int | None,
        allowed_updates: list[str] | None,
        client_gone: Callable[[], bool] = lambda: False,
    ) -> list[Update]:
        """Long polling; a newer getUpdates terminates a waiting one with 409, like Telegram,
        unless its client already hung up (PTB's stop cancels its poll, then polls once more
        to confirm the offset): that one just ends."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if allowed_updates is not None:
            self._allowed = list(allowed_updates)
        if offset:
            self.confirm(offset)
        count = min(max(limit or 100, 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        self._arrived.fire()  # an older long poll still waiting is terminated (409)
        deadline = time.monotonic() + max(0, min(poll_seconds or 0, 50))
        while True:
            if generation != self._poll_generation:
                if client_gone():
                    return []
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            if self._closing:
                return []
            ready = [u for u in self._pending if self._is_allowed(update_type(u))][:count]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return ready
            await self._arrived.wait(remaining)

    # -- webhook --------------------------------------------------------------------------

    async def set_webhook(self, webhook: Webhook) -> None:
        await self.delete_webhook()
        self.webhook = webhook
        self._poll_generation += 1
        self._arrived.fire()
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        webhook.task = asyncio.create_task(self._deliver(webhook), name="standin-webhook")

    async def delete_webhook(self) -> None:
        webhook, self.webhook = self.webhook, None
        self._webhook_wake = None
        if webhook is not None and webhook.task is not None:
            webhook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await webhook.task

    async def close(self) -> None:
        """Ends waiting long polls and webhook delivery (the stand-in is stopping)."""
        self._closing = True
        self._arrived.fire()
        await self.delete_webhook()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(self, webhook: Webhook) -> None:
        """Posts pending updates in order, like Telegram: up to ``max_connections`` at once,
        one at a time per chat (a chat's next update waits for the previous one); an update
        the bot did not answer 2xx stays pending and is retried with a growing delay."""
        assert self._session is not None
        headers = {SECRET_TOKEN_HEADER: webhook.secret_token} if webhook.secret_token else {}
        inflight: dict[object, asyncio.Task[None]] = {}
        retry_at: dict[int, float] = {}
        attempts: dict[int, int] = {}
        wake = self._webhook_wake = asyncio.Event()

        async def post(update: Update) -> None:
            assert self._session is not None
            update_id = update["update_id"]
            try:
                async with self._session.post(webhook.url, json=update, headers=headers) as answer:
                    await answer.read()
                    failure = (
                        None
                        if 200 <= answer.status < 300
                        else f"Wrong response from the webhook: {answer.status} {answer.reason}"
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                failure = f"Connection failed: {exc.__class__.__name__}"
            if failure is None:
                with contextlib.suppress(ValueError):
                    self._pending.remove(update)
                retry_at.pop(update_id, None)
                attempts.pop(update_id, None)
                webhook.delivered += 1
                return
            tries = attempts[update_id] = attempts.get(update_id, 0) + 1
            webhook.failed += 1
            webhook.last_error_date = int(time.time())
            webhook.last_error_message = failure
            delay = min(self._webhook_retry_delay * 2 ** (tries - 1), self.webhook_max_retry_delay)
            retry_at[update_id] = time.monotonic() + delay
            logger.debug(
                "webhook delivery of %s failed (%s): retry in %.2fs", update_id, failure, delay
            )

        def finished(key: object) -> Callable[[asyncio.Task[None]], None]:
            def done(_task: asyncio.Task[None]) -> None:
                inflight.pop(key, None)
                wake.set()

            return done

        try:
            while True:
                wake.clear()
                now = time.monotonic()
                busy = set(inflight)
                next_retry: float | None = None
                for update in list(self._pending):
                    if len(inflight) >= max(1, webhook.max_connections):
                        break
                    key = chat_of(update)
                    if key in busy:
                        continue
                    busy.add(key)  # later updates of this chat wait for this one
                    at = retry_at.get(update["update_id"], 0.0)
                    if at > now:
                        next_retry = at if next_retry is None else min(next_retry, at)
                        continue
                    task = asyncio.create_task(post(update), name="standin-webhook-post")
                    inflight[key] = task
                    task.add_done_callback(finished(key))
                timeout = None if next_retry is None else max(0.0, next_retry - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            for task in list(inflight.values()):
                task.cancel()
            if inflight:
                await asyncio.gather(*inflight.values(), return_exceptions=True)

    def webhook_info(self) -> dict[str, Any]:
        webhook = self.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            if webhook.allowed_updates:
                info["allowed_updates"] = webhook.allowed_updates
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info
