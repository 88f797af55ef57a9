"""The sandbox: ``python -m bot sandbox`` and its web chat driven in headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox import SandboxServer, serve_sandbox
from bot.sandbox.run import ACCOUNTS, language_hooks
from tests.kit import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sandbox_command_serves_the_chat_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "Plume sandbox" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, process.stderr.read()
        assert f"http://127.0.0.1:{port}/" in line
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
        assert b"<html" in page
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    assert not list(tmp_path.glob("*.sqlite3")), "the sandbox uses a temporary database"


@pytest.fixture
async def sandbox(standin, plume) -> AsyncIterator[SandboxServer]:
    on_language, language_of = language_hooks(plume)
    server = await serve_sandbox(
        standin, ACCOUNTS, port=0, on_language=on_language, language_of=language_of
    )
    yield server
    await server.stop()


@pytest.mark.browser
async def test_start_and_choose_a_library_in_the_browser(sandbox, chromium):
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 760})
            await page.goto(sandbox.url)
            await page.fill("#text", "/start")
            await page.press("#text", "Enter")
            await expect(page.locator(".message.bot .text").first).to_contain_text(
                "Bonjour Camille", timeout=10000
            )
            button = page.locator(".message.bot .inline-button", has_text="Bibliothèque de Bas")
            await expect(button).to_be_visible(timeout=10000)
            await button.click()
            await expect(page.locator(".message.bot", has_text="C'est noté")).to_be_visible(
                timeout=10000
            )
            await page.fill("#text", "mot de passe oublié")
            await page.press("#text", "Enter")
            await expect(
                page.locator(".message.bot", has_text="J'ai oublié mon mot de passe")
            ).to_be_visible(timeout=10000)
        finally:
            await browser.close()


# --- keyboard and screen reader -------------------------------------------------------------


@pytest.fixture
async def page(sandbox, chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 760})
            await page.goto(sandbox.url)
            # the accounts loaded and the chat shown: typed earlier, a message had no sender
            await page.wait_for_selector("body[data-ready]", timeout=15000)
            yield page
        finally:
            await browser.close()


async def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes: "
        f"{violation['nodes'][0]['target']})"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


async def say(page, text: str, answer: str) -> None:
    from playwright.async_api import expect

    await page.locator("#text").focus()
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")
    await expect(page.locator("li.message.bot", has_text=answer).last).to_be_visible(timeout=15000)


@pytest.mark.browser
async def test_the_chat_by_keyboard_and_screen_reader_with_no_serious_axe_violation(page):
    from playwright.async_api import expect

    # the composer first: labelled, focused on load
    await expect(page.locator("#text")).to_be_focused()
    composer = page.get_by_label("Votre message à Plume")
    await expect(composer).to_be_visible()
    assert await serious_violations(page) == []

    await say(page, "/start", "Bonjour Camille")
    await expect(page.locator("li.message.bot .inline-button").first).to_be_visible()
    # each message a list item of the conversation, its speaker first
    items = page.locator("ol#message-list > li")
    # /start, the greeting (with the privacy notice's button), then the library question
    await expect(items).to_have_count(3)
    assert (await items.nth(0).inner_text()).startswith("Camille (vous) :")
    assert (await items.nth(1).inner_text()).startswith("Plume :")
    assert await page.locator("#message-list").get_attribute("aria-live") == "polite"
    assert await serious_violations(page) == []

    # the "/" menu by keyboard: typed "/" opens it, ArrowDown enters, Enter sends
    await composer.focus()
    await page.keyboard.type("/")
    menu = page.locator("#command-menu")
    await expect(menu).to_be_visible()
    assert await page.locator("#menu-button").get_attribute("aria-expanded") == "true"
    assert await serious_violations(page) == []
    await page.keyboard.press("ArrowDown")
    first = menu.locator("button.command-item").first
    await expect(first).to_be_focused()
    command = await first.get_attribute("data-command")
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    await expect(composer).to_be_focused()
    assert command


@pytest.mark.browser
async def test_the_command_menu_keeps_its_size_in_a_long_chat(page):
    from playwright.async_api import expect

    helps = page.locator("li.message.bot", has_text="Ce que je sais faire")
    for n in range(1, 9):  # long answers: the list is far taller than the window
        await say(page, "/help", "Ce que je sais faire")
        await expect(helps).to_have_count(n, timeout=15000)  # this one's answer, not the last
    height = await page.locator("#messages").evaluate("el => el.scrollHeight")
    assert height > 3 * 760
    await page.locator("#menu-button").click()
    menu = page.locator("#command-menu")
    await expect(menu).to_be_visible()
    box = await menu.bounding_box()
    assert box is not None and box["height"] > 150, box  # 8 px before the fix
    await menu.locator("button.command-item", has_text="/aide").first.click()
    await expect(page.locator("li.message.bot", has_text="Ce que je sais faire")).to_have_count(
        9, timeout=15000
    )


@pytest.mark.browser
async def test_the_language_switch_follows_settings(page):
    from playwright.async_api import expect

    await say(page, "/settings", "Vos réglages")
    await page.locator("li.message.bot .inline-button", has_text="Langue").last.click()
    await page.locator("li.message.bot .inline-button", has_text="English").last.click()
    await expect(page.locator("html")).to_have_attribute("lang", "en", timeout=15000)
    await expect(page.locator('.lang-button[data-lang="en"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.get_by_label("Your message to Plume")).to_be_visible()
    # and the other way: the switch sets the language /settings shows
    await page.locator('.lang-button[data-lang="fr"]').click()
    await say(page, "/settings", "Vos réglages")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")


@pytest.mark.browser
async def test_a_forced_reply_is_answered_as_in_telegram(page):
    """After "Dire ce qui manquait" (a ForceReply), the next message answers that prompt,
    as Telegram's apps do; ✕ declines, and any bot message can be answered with ↩."""
    from playwright.async_api import expect

    await say(page, "jai oublie mon mdp", "J'ai oublié mon mot de passe")
    card = page.locator("li.message.bot", has_text="J'ai oublié mon mot de passe").last
    await card.locator(".inline-button", has_text="👎").click()
    offer = page.locator("li.message.bot .inline-button", has_text="Dire ce qui manquait")
    await offer.click()
    bar = page.locator("#reply-bar")
    await expect(bar).to_be_visible(timeout=15000)
    await expect(bar).to_contain_text("Réponse à Plume : Qu'est-ce qui manquait")
    await say(page, "Et sur tablette ?", "Merci, l'équipe le lira")
    await expect(bar).to_be_hidden()
    mine = page.locator("li.message.user", has_text="Et sur tablette").last
    await expect(mine.locator(".reply-to")).to_contain_text("Qu'est-ce qui manquait")
    # ↩ on a message, then ✕: the next message is a plain one
    await card.locator(".reply-action").click()
    await expect(bar).to_contain_text("Réponse à Plume : ")
    await page.locator("#reply-cancel").click()
    await expect(bar).to_be_hidden()
    await say(page, "vous avez des bd ?", "")
    plain = page.locator("li.message.user", has_text="vous avez des bd")
    await expect(plain).to_be_visible(timeout=15000)
    assert await plain.locator(".reply-to").count() == 0
