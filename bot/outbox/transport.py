"""One Bot API call over aiohttp, and what its answer means for the outbox (in one place).

:func:`classify` turns an answer (or a transport failure) into a :class:`Verdict`:

==========================  ===========================================================
``SENT``                    200, ``ok``: Telegram took it (``message_id`` kept)
``RATE_LIMITED``            429: wait ``retry_after`` (every sender waits), then again
``UNREACHABLE``             403 (blocked, deactivated, kicked), or 400 "chat not found"…
``CAMPAIGN_FATAL``          400 that every recipient would get ("can't parse entities",
                            "message is too long"…): the whole campaign fails at once
``REFUSED``                 any other 4xx: this message will never go; not retried
``TRANSIENT``               5xx, timeout, refused or dropped connection: tried again
                            later with backoff (``counted``: Telegram may have counted,
                            or even delivered, it — a timeout)
==========================  ===========================================================
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

import aiohttp

UNREACHABLE_HINTS: Final = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "chat_id is empty",
    "user is deactivated",
    "bot was kicked",
    "bot was blocked",
)
#: refusals that do not depend on the recipient: the same text fails for every one
CAMPAIGN_FATAL_HINTS: Final = (
    "can't parse entities",
    "message is too long",
    "text is too long",
    "caption is too long",
    "message text is empty",
    "wrong file identifier",
    "wrong remote file identifier",
    "button_data_invalid",
    "unsupported parse_mode",
)
NOT_MODIFIED: Final = "message is not modified"


class Verdict(StrEnum):
    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    UNREACHABLE = "unreachable"
    CAMPAIGN_FATAL = "campaign_fatal"
    REFUSED = "refused"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    error: str | None = None
    message_id: int | None = None
    retry_after: float = 0.0
    #: Telegram may have counted this request against the limits (a timeout)
    counted: bool = True


def classify(status: int, body: Any) -> Answer:
    """What a Bot API answer means (``body``: the decoded JSON, or None)."""
    data = body if isinstance(body, dict) else {}
    description = str(data.get("description") or f"HTTP {status}")[:300]
    if status == 200 and data.get("ok"):
        result = data.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return Answer(Verdict.SENT, message_id=message_id)
    lowered = description.lower()
    if status == 429:
        parameters = data.get("parameters") or {}
        retry_after = float(parameters.get("retry_after") or 1)
        return Answer(Verdict.RATE_LIMITED, description, retry_after=retry_after)
    if status == 403:
        return Answer(Verdict.UNREACHABLE, description, counted=False)
    if status == 400:
        if NOT_MODIFIED in lowered:  # an edit to the text it already shows: done
            return Answer(Verdict.SENT, description)
        if any(hint in lowered for hint in UNREACHABLE_HINTS):
            return Answer(Verdict.UNREACHABLE, description, counted=False)
        if any(hint in lowered for hint in CAMPAIGN_FATAL_HINTS):
            return Answer(Verdict.CAMPAIGN_FATAL, description, counted=False)
        return Answer(Verdict.REFUSED, description, counted=False)
    if 400 <= status < 500 and status not in (408, 409):
        return Answer(Verdict.REFUSED, description, counted=False)
    return Answer(Verdict.TRANSIENT, description, counted=False)


class Transport(Protocol):
    """Makes one Bot API call (``payload`` without ``chat_id``)."""

    async def call(self, method: str, chat_id: int, payload: dict[str, Any]) -> Answer: ...


class BotApiTransport:
    """The Bot API over one aiohttp session (keep-alive pool, JSON bodies)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connections: int = 128,
        timeout: float = 15.0,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=5.0)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                json_serialize=lambda value: json.dumps(value, ensure_ascii=False),
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def call(self, method: str, chat_id: int, payload: dict[str, Any]) -> Answer:
        session = self._session
        if session is None or session.closed:
            await self.start()
            session = self._session
            assert session is not None
        body = {"chat_id": chat_id, **payload}
        try:
            async with session.post(self._url + method, json=body, timeout=self._timeout) as r:
                status = r.status
                raw = await r.read()
        except TimeoutError:
            # it may have arrived: a retry may duplicate it (counted against the limits too)
            return Answer(Verdict.TRANSIENT, "timed out", counted=True)
        except (aiohttp.ClientError, OSError) as error:
            reason = f"{type(error).__name__}: {error}"[:300]
            return Answer(Verdict.TRANSIENT, reason, counted=False)
        except asyncio.CancelledError:
            raise
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return classify(status, decoded)
