"""The end-to-end test kit: the Bot API stand-in and the real Plume bot, over real HTTP.

``plume`` is started exactly as ``python -m bot run`` starts it (:class:`bot.app.Plume`), only
pointed at the stand-in through ``TELEGRAM_API_BASE_URL``. Tests talk to it as people do:

    alice = standin.user(1001, first_name="Alice", language_code="fr")
    await alice.send("/start")
    reply = await alice.wait_for("Bonjour")
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import Plume
from bot.config import Settings, load_settings
from bot.importer.service import Importer
from bot.standin import BotAPIStandin
from bot.standin.chat import ChatUser
from storage.db import create_engine

TOKEN = "123456:PLUME-TEST-TOKEN"
WEBHOOK_SECRET = "kit-webhook-secret_0"
ADMIN_ID = 900001
NETWORK = Path(__file__).resolve().parent / "data" / "network"

PlumeFactory = Callable[..., Awaitable[Plume]]
#: how Chromium runs headless here (no GPU, no background calls to the closed network)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium for Playwright; the test skips, saying why, where it is missing."""
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright (python) is not installed")
    debian = Path("/usr/bin/chromium")
    path = str(debian) if debian.exists() else shutil.which("chromium")
    if path is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does)")
    return path


@pytest.fixture
async def standin() -> AsyncIterator[BotAPIStandin]:
    api = BotAPIStandin(token=TOKEN, bot_username="plume_test_bot")
    await api.start()
    yield api
    await api.stop()


async def import_network(database_url: str, folder: Path = NETWORK) -> None:
    engine = create_engine(database_url)
    try:
        report = await Importer(engine).run(folder, progress=False)
        assert report.errors == []
    finally:
        await engine.dispose()


async def make_staff(standin: BotAPIStandin, person: ChatUser, plume: Plume, library: str) -> None:
    """``person`` becomes staff of ``library`` (staff manage their own library's workshops):
    known to Plume by a first message, given the role by the administrator, then attached."""
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await person.send("/whoami")
    await person.next_message()
    await admin.send(f"/role {person.id} staff")
    await admin.wait_for("bibliothécaire")
    assert await plume.services.users.set_library(person.id, library)


def test_settings(standin: BotAPIStandin, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": standin.base_url,
        "database_url": database_url,
        "admins": (ADMIN_ID,),
    }
    values.update(overrides)
    return load_settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the webhook URL must be known before listening)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_overrides(standin: BotAPIStandin, mode: str) -> dict[str, object]:
    """Settings of one instance in webhook mode: ``webhook`` (the stand-in posts to it
    directly) or ``balanced`` (behind the stand-in's load balancer, with any others)."""
    listen = f"127.0.0.1:{free_port()}"
    if mode == "balanced":
        url = f"{standin.balancer_url}/telegram"
        standin.balancer.add(f"http://{listen}")
    elif mode == "webhook":
        url = f"http://{listen}/telegram"
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return {"webhook_url": url, "webhook_listen": listen, "webhook_secret": WEBHOOK_SECRET}


@pytest.fixture
async def start_plume(standin: BotAPIStandin, database_url: str) -> AsyncIterator[PlumeFactory]:
    """Starts Plume (more than once for restart tests); everything is stopped at the end.

    ``start_plume(mode="webhook")``: webhook mode, the stand-in posting updates to it;
    ``mode="balanced"``: webhook mode behind the stand-in's load balancer — start it twice
    for two instances on one database."""
    running: list[Plume] = []

    async def start(mode: str = "polling", **overrides: object) -> Plume:
        if mode != "polling":
            overrides = {**webhook_overrides(standin, mode), **overrides}
        url = str(overrides.pop("database_url", database_url))  # e.g. through a proxy
        plume = Plume(test_settings(standin, url, **overrides))
        await plume.start(poll_timeout=1)
        running.append(plume)
        return plume

    yield start
    for plume in reversed(running):
        await plume.stop()


@pytest.fixture
async def plume(start_plume: PlumeFactory, database_url: str) -> Plume:
    """Plume running over the small test network (tests/data/network)."""
    await import_network(database_url)
    return await start_plume()


@pytest.fixture
async def webhook_plume(start_plume: PlumeFactory, database_url: str) -> Plume:
    """Plume in webhook mode over the test network, the stand-in posting to it."""
    await import_network(database_url)
    return await start_plume(mode="webhook")


@pytest.fixture
async def two_plumes(start_plume: PlumeFactory, database_url: str) -> tuple[Plume, Plume]:
    """Two instances on one database behind the stand-in's load balancer (round-robin)."""
    await import_network(database_url)
    return await start_plume(mode="balanced"), await start_plume(mode="balanced")
