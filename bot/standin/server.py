"""The local stand-in for the Telegram Bot API: an aiohttp server plus an in-process chat API.

Serves ``/bot<token>/<method>`` (GET or POST; url-encoded, multipart or JSON) and file downloads
at ``/file/bot<token>/<file_path>``, answering with Telegram's shapes. Point
python-telegram-bot at it with ``ApplicationBuilder().base_url(api.api_url)
.base_file_url(api.file_url)``.

Every request goes through, in order: token check (401), method lookup (404 for methods the
stand-in does not implement, never a silent success), recording in ``api.calls``, random faults
(latency, dropped connection, 502) from ``api.faults``, 403 for blocked/deactivated users,
Telegram's rate limits (429) and finally the method itself (400 on invalid input). See
``faults.py`` for the fault settings.

Usage::

    api = BotAPIStandin(token="123456:TEST", bot_username="plume_test_bot")
    await api.start()                      # 127.0.0.1, free port; api.base_url
    alice = api.user(1001, "Alice", language_code="fr")
    await alice.send("/start")
    reply = await alice.next_message()
    await alice.press(reply, "Lumbres")
    await api.stop()
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

from aiohttp import web

from .backend import Backend
from .balancer import Balancer
from .chat import ChatUser, GroupChat, StandinTimeout
from .errors import UNAUTHORIZED, ApiError, forbidden, not_supported, too_many_requests
from .faults import SENDING_METHODS, Faults, retry_after_seconds
from .methods import CLIENT_GONE, METHODS, canonical_method
from .params import read_parameters
from .records import ABANDONED, DROPPED, CallLog, RecordedCall
from .state import Message, UserInfo

logger = logging.getLogger(__name__)

USER_TARGETED_METHODS = SENDING_METHODS | {"sendChatAction"}


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class _Dropped(Exception):
    """The fault injector decided to close the connection without answering."""


class BotAPIStandin:
    """A fake Telegram Bot API server for one bot, with chats driven from Python."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "plume_test_bot",
        *,
        bot_name: str = "Plume",
        faults: Faults | None = None,
        strict_chats: bool = False,
    ):
        """``strict_chats``: sending to a chat no test user opened answers 400 "chat not found"
        (by default such chats are created on the fly, handy for broadcast benchmarks)."""
        bot_id_text = token.split(":", 1)[0]
        bot_id = int(bot_id_text) if bot_id_text.isdigit() else 1
        self.token = token
        self.bot = UserInfo(id=bot_id, first_name=bot_name, username=bot_username, is_bot=True)
        self.faults = faults or Faults()
        self.calls = CallLog()
        self.backend = Backend(self.bot, strict_chats=strict_chats)
        self._users: dict[tuple[int, int], ChatUser] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._inflight = 0
        self._last_activity = time.monotonic()
        #: the load balancer served at /lb/<path> (see balancer.py)
        self.balancer = Balancer()

    # -- lifecycle --------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application serving the Bot API (``start`` runs it on its own site)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_post("/lb/{path:.*}", self.balancer.forward)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serves on ``host:port`` (0: a free port); then ``base_url`` tells where."""
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.backend.updates.close()
        await self.balancer.close()

    async def __aenter__(self) -> BotAPIStandin:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.backend.updates.close()

    @property
    def is_running(self) -> bool:
        return self._runner is not None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the stand-in is not started; await api.start() first")
        return self._base_url

    @property
    def balancer_url(self) -> str:
        """Where the load balancer listens: ``{balancer_url}/telegram`` reaches each registered
        instance at ``/lb/telegram`` (the path is passed on unchanged)."""
        return f"{self.base_url}/lb"

    @property
    def api_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.base_url}/file/bot"

    # -- chat API ---------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> ChatUser:
        """The user ``user_id`` in their private chat with the bot (chat id == user id).

        Calling again returns the same object (with the given fields updated)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        known = self.backend.users.get(user_id)
        user = self.backend.add_user(
            UserInfo(
                id=user_id,
                first_name=first_name or (known.first_name if known else f"User {user_id}"),
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
        )
        chat = self.backend.private_chat(user)
        key = (user_id, chat.id)
        if key not in self._users:
            self._users[key] = ChatUser(self, user, chat)
        return self._users[key]

    def group(self, chat_id: int, title: str = "Groupe", *, supergroup: bool = True) -> GroupChat:
        return GroupChat(self, self.backend.group_chat(chat_id, title, supergroup=supergroup))

    def commands_for(
        self, user_id: int, chat_id: int | None = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """The command menu ``user_id`` sees in ``chat_id`` (default: their private chat)."""
        chat_id = user_id if chat_id is None else chat_id
        user = self.backend.users.get(user_id)
        language = language_code or (user.language_code if user else None)
        chat = self.backend.chats.get(chat_id)
        return self.backend.commands.visible_to(
            chat_id,
            user_id,
            language,
            private=chat_id > 0,
            is_admin=chat is not None and user_id in chat.administrators,
        )

    def file_data(self, message: Message) -> bytes | None:
        """The bytes of the photo (largest size) or document a message carries."""
        if message.get("photo"):
            stored = self.backend.files.get(message["photo"][-1]["file_id"])
        elif "document" in message:
            stored = self.backend.files.get(message["document"]["file_id"])
        else:
            return None
        return stored.data if stored else None

    @property
    def pending_updates(self) -> int:
        return self.backend.updates.pending_count

    def calls_for(
        self,
        method: str | None = None,
        *,
        chat_id: int | str | None = None,
        status: int | None = None,
    ) -> list[RecordedCall]:
        return self.calls.calls_for(method, chat_id=chat_id, status=status)

    def count_status(self, status: int, method: str | None = None) -> int:
        """How many calls (of ``method``) were answered ``status`` (429, 403, 0 = dropped...)."""
        return self.calls.count(method, status=status)

    async def wait_idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Waits until every update was taken by the bot and it made no call (getUpdates aside)
        for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle_for = now - self._last_activity
            if self.pending_updates == 0 and self._inflight == 0 and idle_for >= quiet:
                return
            if now >= deadline:
                raise StandinTimeout(
                    f"bot not idle after {timeout}s: {self.pending_updates} pending updates, "
                    f"{self._inflight} calls in flight, last call {idle_for:.2f}s ago"
                )
            await asyncio.sleep(min(0.05, max(0.0, deadline - now)))

    # -- HTTP -------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        method = canonical_method(name) or name
        is_poll = method == "getUpdates"
        call = RecordedCall(method, {}, None, at=time.monotonic())
        self.calls.add(call)
        if not is_poll:
            self._inflight += 1
        try:
            result = await self._process(request, method, call)
        except ApiError as exc:
            call.status = exc.error_code
            call.description = exc.description
            call.retry_after = exc.retry_after
            return web.json_response(exc.payload(), status=exc.error_code)
        except _Dropped:
            call.status = DROPPED
            call.description = "connection dropped"
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError from None
        finally:
            if not is_poll:
                self._inflight -= 1
                self._last_activity = time.monotonic()
        call.result = result
        if _client_gone(request):
            call.status = ABANDONED
            call.description = "client closed the connection before the answer"
        return web.json_response({"ok": True, "result": result})

    async def _process(self, request: web.Request, method: str, call: RecordedCall) -> Any:
        if request.match_info["token"] != self.token:
            raise UNAUTHORIZED
        implementation = METHODS.get(method)
        if implementation is None:
            raise not_supported(method)
        params, files = await read_parameters(request)
        call.params = dict(params)
        if method == "getUpdates":
            params[CLIENT_GONE] = lambda: _client_gone(request)
        call.files = {name: upload.filename for name, upload in files.items()}
        chat_id = params.get("chat_id")
        call.chat_id = chat_id if isinstance(chat_id, int | str) else None
        faults = self.faults
        if faults.applies_random_faults(method):
            delay = faults.delay()
            if delay > 0:
                await asyncio.sleep(delay)
            if faults.draw_drop():
                raise _Dropped
            if faults.draw_server_error():
                raise ApiError(502, "Bad Gateway")
        if method in USER_TARGETED_METHODS and isinstance(chat_id, int) and chat_id > 0:
            if chat_id in faults.blocked:
                raise forbidden("bot was blocked by the user")
            if chat_id in faults.deactivated:
                raise forbidden("user is deactivated")
        limited = faults.rate_limits and method in SENDING_METHODS
        now = time.monotonic()
        if limited:
            wait = faults.limits.check(now, call.chat_id, bool(params.get("allow_paid_broadcast")))
            if wait > 0:
                raise too_many_requests(retry_after_seconds(wait))
        result = implementation(self.backend, params, files)
        if inspect.isawaitable(result):
            result = await result
        if limited:
            faults.limits.record(now, call.chat_id)
        return result

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(UNAUTHORIZED.payload(), status=401)
        stored = self.backend.files.by_path(request.match_info["file_path"])
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=stored.data, content_type=stored.mime_type)
