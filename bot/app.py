"""Wiring: settings → engine and services → python-telegram-bot Application → handlers.

Nothing is created at import time. :class:`Plume` starts and stops everything by hand (no
``run_polling``) so the bot can share its event loop with aiohttp (sandbox, tests).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, Defaults, ExtBot

import handlers
from bot.config import ConfigError, Settings, require_token
from bot.context import PlumeApplication, PlumeContext
from bot.outbox import BotApiTransport, EngineSettings, OutboxEngine
from bot.services import Services
from bot.telegram_http import AiohttpRequest
from handlers.menus import publish_default_menus, publish_menu_for
from storage.db import migrate

log = logging.getLogger("plume")
BULK_CONNECTIONS = 128


def build_application(services: Services) -> PlumeApplication:
    """The PTB Application exactly as ``python -m bot run`` uses it.

    Replies go through the Application's bot (PTB's AIORateLimiter smooths bursts and waits
    out 429s); bulk sends (announcements, reminders) go through ``bulk_bot``, which has no
    limiter of its own: :func:`handlers.delivery.deliver` paces it with ``services.throttle``.
    ``bulk_bot`` talks HTTP through aiohttp (:mod:`bot.telegram_http`), lighter per request
    than httpx at paid-broadcast rates.
    """
    settings = services.settings
    base = settings.telegram_api_base_url
    defaults = Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        tzinfo=settings.tz,
    )
    bulk_bot = ExtBot(
        token=require_token(settings),
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        defaults=defaults,
        request=AiohttpRequest(connection_pool_size=BULK_CONNECTIONS, read_timeout=15),
    )
    application = (
        ApplicationBuilder()
        .application_class(
            PlumeApplication,
            {"services": services, "on_role_change": publish_menu_for, "bulk_bot": bulk_bot},
        )
        .token(require_token(settings))
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(ContextTypes(context=PlumeContext))
        .defaults(defaults)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(16)
        .connection_pool_size(64)
        .build()
    )
    handlers.register(application)
    return application  # type: ignore[return-value]


def build_outbox(services: Services) -> OutboxEngine:
    """The engine draining the outbox, paced by ``services.throttle`` (shared with replies)."""
    settings = services.settings
    transport = BotApiTransport(settings.telegram_api_base_url, require_token(settings))
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
    """One running bot: database migrated, services up, updates polled."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Services | None = None
        self.application: PlumeApplication | None = None
        self.outbox: OutboxEngine | None = None

    async def start(self, *, poll_interval: float = 0.0, poll_timeout: int = 10) -> None:
        require_token(self.settings)
        services = self.services = Services.create(self.settings)
        await migrate(services.engine)
        application = self.application = build_application(services)
        try:
            await application.initialize()
        except InvalidToken as error:
            raise ConfigError(
                f"TELEGRAM_BOT_TOKEN: Telegram refused this token ({error.message}); "
                "copy it again from @BotFather"
            ) from None
        await application.bulk_bot.initialize()
        await self._publish_menus()
        await application.start()
        self.outbox = build_outbox(services)
        application.outbox = self.outbox
        await self.outbox.start()
        await handlers.start_features(application)
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=poll_interval,
            timeout=poll_timeout,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )
        me = application.bot
        log.info("Plume is running as @%s", me.username)

    async def _publish_menus(self) -> None:
        assert self.application and self.services
        bot = self.application.bot
        await publish_default_menus(bot, self.settings.default_locale)
        for person in await self.services.users.privileged():
            await publish_menu_for(bot, person)

    async def stop(self) -> None:
        application, services = self.application, self.services
        if application is not None:
            if application.updater and application.updater.running:
                await application.updater.stop()
            if application.running:
                await handlers.stop_features(application)
            if self.outbox is not None:
                await self.outbox.stop()
                await self.outbox.transport.close()  # type: ignore[attr-defined]
                self.outbox = None
            if application.running:
                await application.stop()
            await application.shutdown()
            await application.bulk_bot.shutdown()
            self.application = None
        if services is not None:
            await services.close()
            self.services = None


async def run_until_stopped(plume: Plume) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await plume.start()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await plume.stop()
