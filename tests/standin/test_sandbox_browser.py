"""The sandbox page in headless Chromium: send /start, press a button, see the bot's edit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import BotCommand
from telegram.ext import Application

from bot.sandbox import SandboxAccount, SandboxServer, serve_sandbox
from bot.standin import BotAPIStandin
from tests.kit import CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture
async def sandbox(standin: BotAPIStandin, echo_bot: Application) -> AsyncIterator[SandboxServer]:
    await echo_bot.bot.set_my_commands(
        [BotCommand("start", "Démarrer"), BotCommand("file", "Un fichier")]
    )
    accounts = [
        SandboxAccount(1001, "Usager", "Alice"),
        SandboxAccount(2002, "Bibliothécaire", "Bruno"),
    ]
    server = await serve_sandbox(standin, accounts, port=0)
    yield server
    await server.stop()


async def test_chat_in_the_browser(chromium: str, sandbox: SandboxServer) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 760})
            await page.goto(sandbox.url)
            await expect(page.locator("#account option")).to_have_count(2)

            await page.fill("#text", "/")
            await expect(page.locator(".command-item[data-command=file]")).to_be_visible()
            await page.fill("#text", "/start")
            await page.press("#text", "Enter")

            button = page.locator(".message.bot .inline-button", has_text="Lumbres")
            await expect(button).to_be_visible(timeout=5000)
            await expect(page.locator(".message.bot b")).to_have_text("Bienvenue")
            await button.click()

            edited = page.locator(".message.bot .text").first
            await expect(edited).to_have_text("Médiathèque choisie : Lumbres", timeout=5000)
            await expect(page.locator("#toast")).to_have_text("Lumbres ✓")
            await expect(page.locator(".message.bot .meta").first).to_contain_text("modifié")

            await page.click(".lang-button[data-lang=en]")
            await expect(page.locator("#text")).to_have_attribute("placeholder", "Message")
            await page.fill("#text", "hello")
            await page.click("#send")
            await expect(page.locator(".message.bot .text").last).to_have_text("[en] hello")
            await expect(page.locator(".message.bot .meta").first).to_contain_text("edited")
        finally:
            await browser.close()
