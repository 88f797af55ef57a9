"""Fixtures for the stand-in's own tests: a started stand-in and throwaway PTB bots."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from standin_helpers import TOKEN, build_echo_app, make_standin, polling
from telegram import Bot
from telegram.ext import Application

from bot.standin import BotAPIStandin


@pytest.fixture
async def standin() -> AsyncIterator[BotAPIStandin]:
    api = make_standin()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(standin: BotAPIStandin) -> AsyncIterator[Bot]:
    """A plain PTB ``Bot`` talking to the stand-in (no polling)."""
    async with Bot(TOKEN, base_url=standin.api_url, base_file_url=standin.file_url) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def echo_bot(standin: BotAPIStandin) -> AsyncIterator[Application]:
    async with polling(build_echo_app(standin)) as app:
        yield app
