"""Running the sandbox: the stand-in and the web page on two local sites.

The stand-in (Bot API for the bot) and the sandbox page (for the human) are two aiohttp
applications on two sites, so the bot's base URL never shares a port with the page::

    standin = BotAPIStandin(token=..., bot_username=...)
    server = await serve_sandbox(standin, accounts, port=8080, standin_port=8081)
    # ... build the Plume Application with base_url(standin.api_url) and
    # base_file_url(standin.file_url), initialize/start it, start polling ...
    print(f"Sandbox: {server.url}")
    ...
    await server.stop()   # stops the page, then the stand-in (stop the bot before)

``serve_sandbox`` starts the stand-in too unless it is already started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.standin import BotAPIStandin

from .web import AccountHook, LanguageHook, LanguageLookup, create_sandbox_web_app


@dataclass
class SandboxServer:
    standin: BotAPIStandin
    runner: web.AppRunner
    url: str
    owns_standin: bool

    async def stop(self) -> None:
        await self.runner.cleanup()
        if self.owns_standin:
            await self.standin.stop()


async def serve_sandbox(
    standin: BotAPIStandin,
    accounts: Iterable[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    standin_port: int = 0,
    on_language: LanguageHook | None = None,
    on_account: AccountHook | None = None,
    language_of: LanguageLookup | None = None,
) -> SandboxServer:
    """Starts the stand-in (if needed, on ``standin_port``; 0 = free port) and the sandbox page
    on ``host:port`` (0 = free port); ``SandboxServer.url`` is the page's address."""
    owns_standin = not standin.is_running
    if owns_standin:
        await standin.start(host, standin_port)
    app = create_sandbox_web_app(
        standin, accounts, on_language=on_language, on_account=on_account, language_of=language_of
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        if owns_standin:
            await standin.stop()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    return SandboxServer(standin, runner, f"http://{bound_host}:{bound_port}/", owns_standin)
