"""The report's HTML printed to PDF: headless Chromium when the machine has it (a second or
two for a yearly report), else WeasyPrint (pure Python on Pango; slower on long
documents). Both honour the print CSS: A4, margins, page numbers (``@page`` margin boxes).

Chromium is launched once per PDF and driven over the DevTools protocol on a pipe (no
port, nothing another local user could connect to): :meth:`ChromiumPrinter.launch` may be
started before the figures are computed, so that the browser's start-up (most of the time
a PDF takes) overlaps the queries. The page is our own file: the browser fetches nothing
from the network, and the fonts are the machine's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome", "chrome")
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",  # Plume may run as root in a container; the page is our own HTML
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",  # the protocol on file descriptors 3 (in) and 4 (out)
)
TIMEOUT_S: Final = 120
#: ``sh`` gives Chromium our two pipes as its descriptors 3 and 4
_PIPES: Final = 'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null'


class PrintError(RuntimeError):
    """Chromium could not print the PDF (said in one line)."""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def uses_chromium(engine: str) -> bool:
    """Whether ``engine`` (``auto``, ``chromium``, ``weasyprint``) prints with Chromium."""
    if engine == "weasyprint":
        return False
    if engine == "chromium" and find_chromium() is None:
        raise PrintError("no Chromium found to print the PDF")
    return find_chromium() is not None


def html_to_pdf(html: str, engine: str = "auto") -> bytes:
    """``engine``: ``auto`` (Chromium if found, else WeasyPrint), ``chromium``, ``weasyprint``.
    Blocking: for a thread (in a coroutine, :meth:`ChromiumPrinter.launch` then ``print``)."""
    if not uses_chromium(engine):
        return weasyprint_pdf(html)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no event loop in this thread (a worker thread): ours
        return asyncio.run(_print_once(html))
    with ThreadPoolExecutor(1) as pool:  # called from a coroutine: blocks it, but works
        return pool.submit(asyncio.run, _print_once(html)).result()


def weasyprint_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: a second of start-up the bot rarely needs

    return bytes(HTML(string=html).write_pdf())


async def _print_once(html: str) -> bytes:
    printer = await ChromiumPrinter.launch()
    try:
        return await printer.print(html)
    finally:
        await printer.close()


class ChromiumPrinter:
    """One headless Chromium that prints one page: :meth:`launch`, :meth:`print`,
    :meth:`close` (always, in a ``finally``)."""

    def __init__(self, process: asyncio.subprocess.Process, folder: Path) -> None:
        self._process = process
        self._folder = folder
        self._ids = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._reader = asyncio.create_task(self._read())
        # the browser starts, and opens its page, while the caller computes the figures
        self._page = asyncio.create_task(self._open_page())

    @classmethod
    async def launch(cls) -> ChromiumPrinter:
        path = find_chromium()
        if path is None:
            raise PrintError("no Chromium found to print the PDF")
        folder = Path(tempfile.mkdtemp(prefix="plume-pdf-"))
        process = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            _PIPES,
            path,
            *CHROMIUM_ARGS,
            f"--user-data-dir={folder / 'profile'}",
            "about:blank",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=64 * 1024 * 1024,  # one message carries the whole PDF, in base64
        )
        return cls(process, folder)

    async def print(self, html: str) -> bytes:
        """``html`` as a PDF: A4 and margins from its ``@page`` rule, backgrounds kept."""
        page = self._folder / f"report-{self._ids}.html"
        await asyncio.to_thread(page.write_text, html, encoding="utf-8")
        try:
            return await asyncio.wait_for(self._print(page), TIMEOUT_S)
        except TimeoutError:
            raise PrintError(f"Chromium did not print the PDF in {TIMEOUT_S} s") from None
        finally:
            page.unlink(missing_ok=True)

    async def _open_page(self) -> str:
        """The session of a blank page, ready to open the report."""
        target = await self._call("Target.createTarget", url="about:blank")
        attached = await self._call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        await self._call("Page.enable", session=attached["sessionId"])
        return str(attached["sessionId"])

    async def _print(self, page: Path) -> bytes:
        session = await self._page
        loaded = self._expect(session, "Page.loadEventFired")
        navigated = await self._call("Page.navigate", session=session, url=page.as_uri())
        if navigated.get("errorText"):
            raise PrintError(f"Chromium could not open the report: {navigated['errorText']}")
        await loaded
        printed = await self._call(
            "Page.printToPDF",
            session=session,
            preferCSSPageSize=True,
            printBackground=True,
            displayHeaderFooter=False,
        )
        return base64.b64decode(printed["data"])

    async def close(self) -> None:
        """Stops the browser (politely, then for good) and removes its profile."""
        self._page.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._page
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._call("Browser.close"), 5)
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._process.wait(), 10)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await asyncio.to_thread(shutil.rmtree, self._folder, True)

    async def _call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        reply = asyncio.get_running_loop().create_future()
        self._replies[self._ids] = reply
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message).encode() + b"\0")
        await stdin.drain()
        answer = await reply
        if "error" in answer:
            raise PrintError(f"Chromium: {method}: {answer['error'].get('message', answer)}")
        return answer.get("result", {})

    def _expect(self, session: str, event: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._events[(session, event)] = future
        return future

    async def _read(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while True:
                raw = await stdout.readuntil(b"\0")
                message = json.loads(raw[:-1])
                if "id" in message:
                    reply = self._replies.pop(message["id"], None)
                    if reply is not None and not reply.done():
                        reply.set_result(message)
                    continue
                key = (message.get("sessionId", ""), message.get("method", ""))
                waiting = self._events.pop(key, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(None)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            failure = PrintError("Chromium stopped before printing the PDF")
            failure.__cause__ = error
            waiters: list[asyncio.Future[Any]] = [*self._replies.values(), *self._events.values()]
            for future in waiters:
                if not future.done():
                    future.set_exception(failure)
