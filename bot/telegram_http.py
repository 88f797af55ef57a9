"""python-telegram-bot's HTTP transport on aiohttp (instead of httpx).

:class:`AiohttpRequest` is a :class:`telegram.request.BaseRequest`: one
:class:`aiohttp.ClientSession` per instance (opened by :meth:`~AiohttpRequest.initialize`,
closed by :meth:`~AiohttpRequest.shutdown`) over a keep-alive connection pool. It is lighter
per request than PTB's ``HTTPXRequest``, which matters for paid broadcasts (up to 1,000
messages per second from one process).

The contract is ``HTTPXRequest``'s:

* parameters go as form fields (url-encoded, or ``multipart/form-data`` when the request
  uploads files), each value JSON-encoded by :class:`~telegram.request.RequestData`;
* :meth:`~AiohttpRequest.do_request` returns ``(status code, body bytes)`` whatever the
  status: :class:`~telegram.request.BaseRequest` turns 4xx/5xx answers into ``Forbidden``,
  ``RetryAfter``, ``NetworkError``...;
* a timeout raises :class:`telegram.error.TimedOut` (a subclass of ``NetworkError``), any
  other transport failure (refused or dropped connection, broken answer)
  :class:`telegram.error.NetworkError` naming the aiohttp exception;
* timeouts: ``pool_timeout`` bounds the wait for a free connection of the pool (``TimedOut``
  saying the request was *not* sent, as ``HTTPXRequest`` does), ``connect_timeout`` the TCP
  connection, ``read_timeout`` the wait for each piece of the answer. aiohttp has no write
  timeout of its own and reads the answer while it writes the request, so the write timeout
  (``media_write_timeout`` for uploads) is added to the read timeout;
* POST requests are never sent twice by the transport (aiohttp retries only idempotent
  methods on a stale keep-alive connection), so a ``NetworkError`` never hides a duplicate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, RequestData

from bot.throttle import Throttle

POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)


class AiohttpRequest(BaseRequest):
    """A :class:`~telegram.request.BaseRequest` on one :class:`aiohttp.ClientSession`.

    The arguments mean what they mean for :class:`telegram.request.HTTPXRequest` (same
    defaults). ``proxy``: an ``http://`` proxy URL. ``trust_env``: take proxies from
    ``HTTP(S)_PROXY`` and credentials from ``~/.netrc`` as httpx does; off by default, because
    aiohttp then reads the environment and ``~/.netrc`` (in a thread) for every request, which
    costs more than the request itself at broadcast rates.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_trust_env",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
        trust_env: bool = False,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        # our own pool gate: a wait for a connection is told apart from a slow server
        self._pool: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """See :attr:`telegram.request.BaseRequest.read_timeout`."""
        return self._read_timeout

    @property
    def is_initialized(self) -> bool:
        return self._session is not None and not self._session.closed

    async def initialize(self) -> None:
        """Opens the session (again after :meth:`shutdown`); does nothing if it is open."""
        if self.is_initialized:
            return
        connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            trust_env=self._trust_env,
        )
        self._pool = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """Closes the session and its connections (calling it twice is harmless)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See :meth:`telegram.request.BaseRequest.do_request`."""
        session, pool = self._session, self._pool
        if session is None or session.closed or pool is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        default_write = self._media_write_timeout if uploads else self._write_timeout
        write = _given(write_timeout, default_write)
        connect = _given(connect_timeout, self._connect_timeout)
        waiting = _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=connect,
            sock_read=None if read is None or write is None else read + write,
        )
        data = _body(request_data) if request_data is not None else None

        try:
            async with asyncio.timeout(waiting):
                await pool.acquire()
        except TimeoutError:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from None
        try:
            async with session.request(
                method, url, data=data, timeout=timeout, proxy=self._proxy
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's ServerTimeoutError is one too
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        finally:
            pool.release()


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _body(request_data: RequestData) -> aiohttp.FormData | dict[str, Any]:
    """Form fields (url-encoded), or a multipart form when files are uploaded."""
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form


#: Bot API methods Telegram counts against its message limits (not chat actions, not
#: answerCallbackQuery)
COUNTED_PREFIXES = ("send", "copyMessage", "forwardMessage", "editMessage")


def counted(endpoint: str) -> bool:
    return endpoint.startswith(COUNTED_PREFIXES) and endpoint != "sendChatAction"


class ReplyLimiter(BaseRateLimiter[None]):
    """The direct replies' limiter: each counted call takes an *urgent* slot of the one
    :class:`~bot.throttle.Throttle` the outbox also uses, so a patron's answer goes before
    the broadcast's next message, and the broadcast yields exactly the slots the replies
    take. A 429 holds every sender for ``retry_after`` and the reply is tried again
    (``max_retries`` times). ``on_sent`` learns of each slot taken (the budget shared with
    the other instances, :class:`bot.outbox.budget.SharedBudget`)."""

    def __init__(
        self,
        throttle: Throttle,
        *,
        max_retries: int = 3,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        self._throttle = throttle
        self._max_retries = max_retries
        self._on_sent = on_sent

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        if not counted(endpoint):
            return await callback(*args, **kwargs)
        raw = data.get("chat_id")
        chat_id = (
            int(raw) if isinstance(raw, int | str) and str(raw).lstrip("-").isdigit() else None
        )
        attempt = 0
        while True:
            slot = await self._throttle.acquire(chat_id, urgent=True)
            if self._on_sent is not None:
                self._on_sent()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                with warnings.catch_warnings():  # PTB 22 warns that the type will change
                    warnings.simplefilter("ignore")
                    wait = error.retry_after
                seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
                self._throttle.hold(seconds)
                attempt += 1
                if attempt > self._max_retries:
                    raise
            except (Forbidden, BadRequest):
                self._throttle.refund(slot)  # refused: Telegram did not count it
                raise
