"""``python -m bot sandbox``: try Plume without Telegram.

Starts the Bot API stand-in, Plume pointed at it (the demo network loaded; a temporary
database unless ``DATABASE_URL`` is given) and the web chat, with three accounts: a patron,
a librarian and a coordinator.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from bot.app import Plume
from bot.config import Settings
from bot.counter.service import import_demo_usage
from bot.demo import demo_export
from bot.importer.service import Importer
from bot.standin import BotAPIStandin
from storage.db import create_engine, migrate
from storage.models import Library

from .accounts import SandboxAccount
from .serve import serve_sandbox
from .web import LanguageHook, LanguageLookup

TOKEN = "100000:SANDBOX"  # noqa: S105 (the stand-in's own token, not a secret)
BOT_USERNAME = "plume_sandbox_bot"
ACCOUNTS = (
    SandboxAccount(710001, "Usager · Patron", "Camille"),
    SandboxAccount(710002, "Bibliothécaire · Staff", "Léa"),
    SandboxAccount(710003, "Coordination · Coordinator", "Noé"),
)
ROLES = {710002: "staff", 710003: "coordinator"}


async def prepare_database(url: str, settings: Settings, *, fresh: bool) -> None:
    """Migrated; the demo network imported into a fresh database, or an empty one."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            libraries = await conn.scalar(select(func.count()).select_from(Library))
        if fresh or not libraries:
            with demo_export(settings.tz) as folder:
                await Importer(engine).run(folder, progress=False)
                await import_demo_usage(engine, folder / "usage")
    finally:
        await engine.dispose()


async def seed_accounts(plume: Plume) -> None:
    assert plume.services is not None
    users = plume.services.users
    libraries = await plume.services.libraries.page(0)
    home = libraries.libraries[0].id if libraries.libraries else None
    for account in ACCOUNTS:
        await users.seed(
            account.user_id,
            account.first_name,
            account.language_code,
            ROLES.get(account.user_id, "patron"),
            home if account.user_id in ROLES else None,
        )


def language_hooks(plume: Plume) -> tuple[LanguageHook, LanguageLookup]:
    """The page's FR/EN switch and /settings kept in step, both ways, through the database."""

    async def on_language(user_id: int, language: str) -> None:
        if plume.services and language in ("fr", "en"):
            await plume.services.users.set_language(user_id, language)
            person = await plume.services.users.get(user_id)
            if person and plume.application:
                await plume.application.on_role_change(plume.application.bot, person)

    async def language_of(user_id: int) -> str | None:
        if plume.services is None:
            return None
        person = await plume.services.users.get(user_id)
        return person.language if person else None

    return on_language, language_of


class SandboxAddressError(Exception):
    """The web chat cannot listen where asked (port in use, unknown host...)."""


def check_address(host: str, port: int) -> None:
    """Fails fast, before the demo is loaded, when ``host:port`` cannot be listened on."""
    if not 0 <= port <= 65535:
        raise SandboxAddressError(f"--port {port}: a port is a number from 0 to 65535")
    try:
        with socket.create_server((host, port)):
            pass
    except socket.gaierror as error:
        raise SandboxAddressError(f"--host {host}: unknown address ({error.strerror})") from None
    except OSError as error:
        raise SandboxAddressError(_bind_error(host, port, error)) from None


def _bind_error(host: str, port: int, error: OSError) -> str:
    import errno

    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: "
            "choose another with --port (0 picks a free one)"
        )
    if error.errno == errno.EACCES:
        return f"port {port} on {host}: permission denied (ports below 1024 need root)"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


def _webhook_settings(webhook: bool) -> dict[str, object]:
    """``--webhook``: Plume in webhook mode, the stand-in posting updates to it on 127.0.0.1
    (the production update path); otherwise polling, whatever the environment says."""
    if not webhook:
        return {"webhook_url": None, "webhook_secret": None, "metrics_listen": None}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return {
        "webhook_url": f"http://127.0.0.1:{port}/telegram",
        "webhook_listen": f"127.0.0.1:{port}",
        "webhook_secret": secrets.token_urlsafe(24),
    }


async def run_sandbox(settings: Settings, host: str, port: int, webhook: bool = False) -> int:
    try:
        check_address(host, port)
    except SandboxAddressError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    given_database = "database_url" in settings.model_fields_set
    with tempfile.TemporaryDirectory(prefix="plume-sandbox-") as tmp:
        url = (
            settings.database_url
            if given_database
            else (f"sqlite+aiosqlite:///{Path(tmp) / 'sandbox.sqlite3'}")
        )
        await prepare_database(url, settings, fresh=not given_database)
        standin = BotAPIStandin(token=TOKEN, bot_username=BOT_USERNAME)
        await standin.start(host)
        plume = Plume(
            settings.model_copy(
                update={
                    "telegram_bot_token": TOKEN,
                    "telegram_api_base_url": standin.base_url,
                    "database_url": url,
                    **_webhook_settings(webhook),
                }
            )
        )
        await plume.start(poll_timeout=10)
        await seed_accounts(plume)
        services = plume.services
        assert services is not None  # set by plume.start()
        for account in ACCOUNTS:  # their menus, now that they have their roles
            person = await services.users.get(account.user_id)
            if person and plume.application:
                await plume.application.on_role_change(plume.application.bot, person)

        on_language, language_of = language_hooks(plume)
        try:
            server = await serve_sandbox(
                standin,
                ACCOUNTS,
                host=host,
                port=port,
                on_language=on_language,
                language_of=language_of,
            )
        except OSError as error:  # taken between the check and now
            print(f"sandbox: {_bind_error(host, port, error)}", file=sys.stderr)
            await plume.stop()
            with contextlib.suppress(Exception):
                await standin.stop()
            return 1
        print(f"Plume sandbox: open {server.url} (Ctrl-C to stop)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            print("stopping the sandbox", flush=True)
            await plume.stop()
            await server.stop()
            with contextlib.suppress(Exception):
                await standin.stop()
    return 0
