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
from bot.sandbox.run import ACCOUNTS
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
    assert not list(tmp_path.glob("*.sqlite3")), "the sandbox uses a temporary database"


@pytest.fixture
async def sandbox(standin, plume) -> AsyncIterator[SandboxServer]:
    server = await serve_sandbox(standin, ACCOUNTS, port=0)
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
