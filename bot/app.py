"""Wiring: settings → engine and services → python-telegram-bot Application → handlers.

Nothing is created at import time. :class:`Plume` starts and stops everything by hand (no
``run_polling``) so the bot can share its event loop with aiohttp (sandbox, tests).

Two modes, one update path. Polling (no ``PLUME_WEBHOOK_URL``): PTB's updater fetches, the
:class:`GatedUpdateProcessor` passes each update through the gate. Webhook: no updater at
all (getUpdates is never called), the listener (:mod:`bot.webhook.listener`) receives each
update and hands it to :meth:`Plume.feed`, which passes it through the same gate. The gate
(:mod:`bot.webhook.gate`) lets an update be handled once and one chat at a time; inside it
the person's conversation state is read from the database before the handlers run and
written back after (:mod:`bot.persistence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy import text
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
)
from telegram.request import HTTPXRequest

import handlers
from bot.announcements.desk import BroadcastDesk
from bot.config import ConfigError, Settings, parse_listen, require_token
from bot.context import PlumeApplication, PlumeContext
from bot.outbox import BotApiTransport, EngineSettings, OutboxEngine
from bot.outbox.budget import SharedBudget
from bot.outbox.transport import Transport
from bot.persistence import DatabasePersistence, load_conversations_for
from bot.services import Services
from bot.telegram_http import AiohttpRequest, ReplyLimiter
from bot.webhook.gate import Admission, UpdateGate
from bot.webhook.listener import Listener
from bot.webhook.metrics import Metrics
from bot.webhook.outbox_metrics import MeteredTransport, outbox_depth_refresher
from bot.workshops.sender import ReminderSender
from handlers.gate.errors import apologise_unavailable
from handlers.shared.menus import publish_default_menus, publish_menu_for
from storage.db import migrate

log = logging.getLogger("plume")
#: updates handled at once by one instance
CONCURRENT_UPDATES = 16
#: on SIGTERM, how long updates already taken may take to finish
DRAIN_SECONDS = 5.0
#: meanwhile the outbox lets its sends under way finish this long (then gives them back)
OUTBOX_STOP_SECONDS = 3.0
#: the whole stop, from the signal to the last connection closed (promised: under 10 s)
STOP_SECONDS = 8.0
#: a step of the stop past its bound: how long its cancelled work is given to roll back
#: (within ``STOP_SECONDS``), so that none of it outlives the database engine
ABANDON_SECONDS = 1.0
ALLOWED_UPDATES = list(Update.ALL_TYPES)


def instance_name() -> str:
    """host-pid-random: names this process in handled_updates and /healthz."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


class _Metered:
    """Counts every Bot API call of a bot in :class:`Metrics` (method, status); with
    ``retry_for``, a call Telegram answers 5xx, or that cannot connect, is tried again for
    that many seconds (never one that timed out: it may have arrived)."""

    def __init__(
        self, *args: Any, metrics: Metrics, path: str, retry_for: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._plume_metrics = metrics
        self._plume_path = path
        self._plume_retry_for = retry_for

    async def do_request(self, url: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        deadline = time.monotonic() + self._plume_retry_for
        pause = 0.5
        method = url.rsplit("/", 1)[-1]
        while True:
            status: int | None = None
            try:
                # a mixin: super() is the request class it is mixed into, unknown here
                status, payload = await super().do_request(url, *args, **kwargs)  # type: ignore[misc]
            except TimedOut:
                self._plume_metrics.record_call(self._plume_path, method, None)
                raise
            except NetworkError:
                self._plume_metrics.record_call(self._plume_path, method, None)
                if method == "getUpdates" or time.monotonic() + pause > deadline:
                    raise
            else:
                self._plume_metrics.record_call(self._plume_path, method, status)
                if status < 500 or method == "getUpdates" or time.monotonic() + pause > deadline:
                    return status, payload
            await asyncio.sleep(pause)
            pause *= 2


class MeteredHTTPXRequest(_Metered, HTTPXRequest):
    pass


class MeteredAiohttpRequest(_Metered, AiohttpRequest):
    pass


async def pass_through_gate(
    application: PlumeApplication,
    gate: UpdateGate,
    update: Update,
    process: Callable[[], Awaitable[None]],
) -> Admission:
    """The update path of both modes: once, one chat at a time, state read and written."""
    chat, user = update.effective_chat, update.effective_user
    chat_id = chat.id if chat else (user.id if user else None)

    async def run() -> None:
        await load_conversations_for(application, update)
        try:
            await process()
        finally:
            if user is not None and isinstance(application.persistence, DatabasePersistence):
                application.persistence.drop_prefetched(user.id)
        await application.update_persistence()

    admission = await gate.handle(update.update_id, chat_id, run)
    if admission is Admission.FAILED:  # the database is away: handled once it is back
        await apologise_unavailable(
            application.bot, update, application.services.settings.default_locale
        )
    return admission


def _discard(awaitable: Awaitable[Any]) -> None:
    """An update the gate did not let through: its handling is closed without running (PTB
    gives a coroutine; closing it spares the "never awaited" warning)."""
    if isinstance(awaitable, Coroutine):
        awaitable.close()


class GatedUpdateProcessor(BaseUpdateProcessor):
    """Polling mode: PTB's fetched updates go through the gate like webhook ones."""

    def __init__(self, gate: UpdateGate, concurrency: int) -> None:
        super().__init__(max_concurrent_updates=concurrency)
        self.gate = gate
        self.application: PlumeApplication | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update) or self.application is None:
            await coroutine
            return
        # polling: getUpdates will not give it again, so an update the gate could not
        # record (the database away) is tried again here until it can
        pause = 1.0
        while True:
            try:
                admission = await pass_through_gate(
                    self.application, self.gate, update, lambda: coroutine
                )
            except Exception:
                log.exception("update %s could not be handled", update.update_id)
                _discard(coroutine)
                return
            if admission is not Admission.FAILED or not self.application.running:
                break
            await asyncio.sleep(pause)
            pause = min(10.0, pause * 2)
        if admission is not Admission.HANDLED:
            _discard(coroutine)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def build_application(
    services: Services,
    *,
    metrics: Metrics | None = None,
    gate: UpdateGate | None = None,
    polling: bool = True,
    on_reply_sent: Callable[[], None] | None = None,
) -> PlumeApplication:
    """The PTB Application exactly as ``python -m bot run`` uses it.

    Replies go through the Application's bot (PTB's AIORateLimiter smooths bursts and waits
    out 429s; a 5xx is retried for ``PLUME_REPLY_RETRY_SECONDS``). Everything else Plume
    sends is an outbox row, sent by the engine of :func:`build_outbox` over aiohttp.
    """
    settings = services.settings
    metrics = metrics or Metrics()
    base = settings.telegram_api_base_url
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        tzinfo=settings.tz,
    )
    builder = (
        ApplicationBuilder()
        .application_class(
            PlumeApplication,
            {
                "services": services,
                "on_role_change": publish_menu_for,
                # the features' engines: built here, reached through the typed context
                "broadcasts": BroadcastDesk(services, handlers.broadcast_rendering()),
                "reminder_sender": ReminderSender(services, handlers.reminder_rendering()),
            },
        )
        .token(require_token(settings))
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(ContextTypes(context=PlumeContext))
        .defaults(defaults)
        .request(
            MeteredAiohttpRequest(
                metrics=metrics,
                path="reply",
                connection_pool_size=64,
                retry_for=settings.reply_retry_seconds,
            )
        )
        .persistence(DatabasePersistence(services.sessions, services.engine, services.users))
    )
    if settings.reply_rate_limit:
        builder = builder.rate_limiter(
            ReplyLimiter(services.throttle, max_retries=3, on_sent=on_reply_sent)
        )
    processor = GatedUpdateProcessor(gate, CONCURRENT_UPDATES) if gate is not None else None
    builder = builder.concurrent_updates(processor or CONCURRENT_UPDATES)
    if not polling:
        builder = builder.updater(None)  # webhook mode: nothing may call getUpdates
    application = builder.build()
    assert isinstance(application, PlumeApplication)  # application_class above
    if processor is not None:
        processor.application = application
    handlers.register(application)
    return application


def build_outbox(services: Services, metrics: Metrics | None = None) -> OutboxEngine:
    """The engine draining the outbox, paced by ``services.throttle`` (shared with replies)."""
    settings = services.settings
    transport: Transport = BotApiTransport(settings.telegram_api_base_url, require_token(settings))
    if metrics is not None:
        transport = MeteredTransport(transport, metrics)
    engine = OutboxEngine(
        services.outbox,
        transport,
        services.throttle,
        settings=EngineSettings(
            backoff_first=settings.outbox_backoff,
            backoff_max=min(600.0, 120 * settings.outbox_backoff),
            outage_pause_max=min(30.0, 6 * settings.outbox_backoff),
            give_up_after=settings.outbox_give_up.total_seconds(),
            lease_ttl=settings.outbox_lease_ttl,
            lease_every=settings.outbox_lease_ttl / 5,
        ),
    )
    services.outbox.on_enqueued(engine.wake)
    return engine


class Plume:
    """One running bot: database migrated, services up, updates polled or received."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Services | None = None
        self.application: PlumeApplication | None = None
        self.outbox: OutboxEngine | None = None
        self.metrics = Metrics()
        self.instance = instance_name()
        self.gate: UpdateGate | None = None
        self.listener: Listener | None = None
        self.budget: SharedBudget | None = None

    @property
    def webhook_mode(self) -> bool:
        return self.settings.webhook_url is not None

    async def start(self, *, poll_interval: float = 0.0, poll_timeout: int = 10) -> None:
        require_token(self.settings)
        if self.webhook_mode:  # said before anything starts, not once the outbox drains
            can_listen("PLUME_WEBHOOK_LISTEN", self.settings.webhook_listen)
        elif self.settings.metrics_listen:
            can_listen("PLUME_METRICS_LISTEN", self.settings.metrics_listen)
        services = self.services = Services.create(self.settings)
        await migrate(services.engine)
        gate = self.gate = UpdateGate(
            services.engine,
            services.sessions,
            instance=self.instance,
            metrics=self.metrics,
            concurrency=CONCURRENT_UPDATES,
        )
        budget = self.budget = SharedBudget(
            services.engine,
            services.throttle,
            self.instance,
            lambda: self.outbox is not None and self.outbox.holding,
        )
        application = self.application = build_application(
            services,
            metrics=self.metrics,
            gate=gate,
            polling=not self.webhook_mode,
            on_reply_sent=budget.note,
        )
        try:
            await application.initialize()
        except InvalidToken:  # its message repeats the token: never printed nor logged
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN: Telegram refused this token; copy it again from @BotFather"
            ) from None
        await self._publish_menus()
        await application.start()
        self.outbox = build_outbox(services, self.metrics)
        self.metrics.refreshers.append(outbox_depth_refresher(services.sessions))
        application.outbox = self.outbox
        await self.outbox.start()
        await budget.start()
        await application.reminder_sender.start()
        await handlers.start_features(application)
        if self.settings.warm_up:
            # before the first update: otherwise the first questions are answered on words
            # alone while the index loads, and pay for the model's weights (1.4 s of CPU)
            began = time.monotonic()
            await services.answers.responder.warm_up()
            log.info("semantic index ready in %.1f s", time.monotonic() - began)
        if self.webhook_mode:
            await self._start_webhook()
        else:
            if self.settings.metrics_listen:
                host, port = parse_listen(self.settings.metrics_listen)
                self.listener = self._listener(host, port)
                await _listen(self.listener, "PLUME_METRICS_LISTEN", self.settings.metrics_listen)
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=poll_interval,
                timeout=poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        me = application.bot
        log.info(
            "Plume is running as @%s (%s mode, instance %s)",
            me.username,
            "webhook" if self.webhook_mode else "polling",
            self.instance,
        )

    def _listener(self, host: str, port: int, **webhook: Any) -> Listener:
        return Listener(
            host=host,
            port=port,
            metrics=self.metrics,
            probe=self.probe_database,
            mode="webhook" if self.webhook_mode else "polling",
            instance=self.instance,
            concurrency=CONCURRENT_UPDATES,
            **webhook,
        )

    async def _start_webhook(self) -> None:
        settings, application = self.settings, self.application
        assert settings.webhook_url and settings.webhook_secret and application
        host, port = parse_listen(settings.webhook_listen)
        self.listener = self._listener(
            host,
            port,
            webhook_path=settings.webhook_path,
            secret=settings.webhook_secret,
            feed=self.feed,
        )
        # listening before Telegram is told where to post
        await _listen(self.listener, "PLUME_WEBHOOK_LISTEN", settings.webhook_listen)
        await application.bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )

    async def feed(self, data: dict[str, Any]) -> Admission:
        """One update received by the webhook listener, handled through the gate."""
        application, gate = self.application, self.gate
        assert application is not None and gate is not None
        update = Update.de_json(data, application.bot)
        return await pass_through_gate(
            application, gate, update, lambda: application.process_update(update)
        )

    async def probe_database(self) -> None:
        assert self.services is not None
        async with self.services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _publish_menus(self) -> None:
        assert self.application and self.services
        bot = self.application.bot
        await publish_default_menus(bot, self.settings.default_locale)
        for person in await self.services.users.privileged():
            await publish_menu_for(bot, person)

    async def stop(self) -> None:
        """Stops taking updates (the webhook answers 503, /healthz says draining) and, at the
        same time, the outbox (its sends under way finish or go back to the queue, the lease
        is given up); lets the updates already taken finish (``DRAIN_SECONDS`` at most), then
        winds down, everything within ``STOP_SECONDS``."""
        deadline = time.monotonic() + STOP_SECONDS

        def left(reserve: float = 0.0) -> float:
            return max(0.1, deadline - time.monotonic() - reserve)

        application, services, listener = self.application, self.services, self.listener
        outbox, self.outbox = self.outbox, None
        stopping_outbox = (
            asyncio.create_task(outbox.stop(OUTBOX_STOP_SECONDS)) if outbox is not None else None
        )
        if listener is not None:
            listener.start_draining()
            if not await listener.wait_idle(min(DRAIN_SECONDS, left(2.5))):
                log.warning("stopping with updates still being handled")
        if application is not None:
            if application.updater and application.updater.running:
                await application.updater.stop()
            if application.running and not await _within(
                _stop_features(application), left(2.0), "features"
            ):
                await application.reminder_sender.abandon(min(ABANDON_SECONDS, left(1.5)))
        if stopping_outbox is not None and outbox is not None:
            if not await _within(asyncio.shield(stopping_outbox), left(1.5), "outbox"):
                stopping_outbox.cancel()
                await outbox.abandon(min(ABANDON_SECONDS, left(1.0)))
            close = getattr(outbox.transport, "close", None)  # BotApiTransport's session
            if close is not None:
                await close()
        if application is not None:
            if application.running:
                await _within(application.stop(), left(1.0), "application")
            await _within(application.shutdown(), left(0.8), "shutdown")
            self.application = None
        if self.budget is not None:
            await self.budget.stop()
            self.budget = None
        if listener is not None:
            await listener.stop()
            self.listener = None
        if self.gate is not None:
            await self.gate.close()
            self.gate = None
        if services is not None:
            await services.close(settle_within=left(0.5))
            self.services = None


async def _stop_features(application: PlumeApplication) -> None:
    """The features' engines wind down (work under way finishes; the rows keep the rest)."""
    await application.reminder_sender.stop()
    await application.broadcasts.stop_all()
    await handlers.stop_features(application)


async def _within(step: Awaitable[Any], seconds: float, what: str) -> bool:
    """One step of the stop, given at most ``seconds`` (the whole stop must fit in 10 s);
    False when it did not finish in time."""
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.warning("stopping: %s did not finish within %.1f s; going on", what, seconds)
        return False
    return True


def can_listen(setting: str, value: str) -> None:
    """A ConfigError naming ``setting`` when its address cannot be listened on (taken by
    another program, not an address of this machine)."""
    host, port = parse_listen(value)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener
            probe.bind(address)
    except OSError as error:
        raise _cannot_listen(setting, value, error) from None


async def _listen(listener: Listener, setting: str, value: str) -> None:
    try:
        await listener.start()
    except OSError as error:  # taken between the check at start and now
        raise _cannot_listen(setting, value, error) from None


def _cannot_listen(setting: str, value: str, error: OSError) -> ConfigError:
    return ConfigError(f"{setting}: cannot listen on {value} ({error.strerror or error})")


async def run_until_stopped(plume: Plume) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await plume.start()
    except BaseException:  # what did start is stopped: one line said, nothing left open
        with contextlib.suppress(Exception):
            await plume.stop()
        raise
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await plume.stop()
