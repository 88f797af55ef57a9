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


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class UpdateQueue:
    """Pending updates in order, confirmed by getUpdates' offset or by webhook delivery."""

    def __init__(self, webhook_retry_delay: float = 0.2) -> None:
        self._pending: deque[Update] = deque()
        self._last_update_id = 0
        self._arrived = Pulse()
        self._allowed: list[str] | None = None
        self._poll_generation = 0
        self._webhook_retry_delay = webhook_retry_delay
        self.webhook: Webhook | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False

    # -- producing ------------------------------------------------------------------------

    def push(self, kind: str, payload: dict[str, Any]) -> Update | None:
        """Queues an update of type ``kind``; None when the bot's allowed_updates exclude it."""
        if not self._is_allowed(kind):
            return None
        self._last_update_id += 1
        update: Update = {"update_id": self._last_update_id, kind: payload}
        self._pending.append(update)
        self._arrived.fire()
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
        """Posts pending updates one at a time, in order; retries until the bot answers 2xx."""
        assert self._session is not None
        headers = {SECRET_TOKEN_HEADER: webhook.secret_token} if webhook.secret_token else {}
        while True:
            if not self._pending:
                await self._arrived.wait(None)
                continue
            update = self._pending[0]
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
                if self._pending and self._pending[0] is update:
                    self._pending.popleft()
                webhook.delivered += 1
                continue
            webhook.last_error_date = int(time.time())
            webhook.last_error_message = failure
            logger.debug("webhook delivery failed: %s", failure)
            await asyncio.sleep(self._webhook_retry_delay)

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
