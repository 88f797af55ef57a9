"""The plain-HTTP listener: the webhook path, ``GET /healthz`` and ``GET /metrics``.

TLS is the reverse proxy's job. The webhook path checks ``X-Telegram-Bot-Api-Secret-Token``
on every request (403 otherwise) and answers once the update is handled, so that an update
whose instance dies half-way is delivered again (and the gate lets exactly one instance handle
it). While stopping, the listener answers 503 to new updates (the load balancer passes them to
another instance; Telegram retries) and ``/healthz`` says ``draining``; updates already taken
are finished.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.webhook.gate import Admission
from bot.webhook.metrics import CONTENT_TYPE_LATEST, Metrics

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
HEALTH_TIMEOUT = 3.0

Feed = Callable[[dict[str, Any]], Awaitable[Admission]]
Probe = Callable[[], Awaitable[None]]


class Listener:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        metrics: Metrics,
        probe: Probe,
        mode: str,
        instance: str,
        webhook_path: str | None = None,
        secret: str | None = None,
        feed: Feed | None = None,
        concurrency: int = 32,
    ) -> None:
        self._host, self._port = host, port
        self._metrics = metrics
        self._probe = probe
        self._mode = mode
        self._instance = instance
        self._secret = secret.encode() if secret else None
        self._feed = feed
        self._slots = asyncio.Semaphore(concurrency)
        self._draining = False
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        app = web.Application()
        if webhook_path is not None:
            app.router.add_post(webhook_path, self._on_update)
        app.router.add_get("/healthz", self._on_health)
        app.router.add_get("/metrics", self._on_metrics)
        self._app = app

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    def start_draining(self) -> None:
        self._draining = True
        self._metrics.draining.set(1)

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109
        """True when every update taken was finished within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- routes -----------------------------------------------------------------------------

    async def _on_update(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if self._secret is None or not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="Forbidden")
        if self._draining or self._feed is None:
            return _unavailable("stopping")
        try:
            update = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="Bad Request: not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="Bad Request: not an update")
        self._inflight += 1
        self._idle.clear()
        try:
            async with self._slots:
                admission = await self._feed(update)
        except Exception:
            log.exception("update %s failed", update.get("update_id"))
            return web.Response(status=500, text="Internal Server Error")
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()
        if admission in (Admission.BUSY, Admission.FAILED):
            return _unavailable(admission.value)
        return web.Response(status=200, text="ok")

    async def _on_health(self, request: web.Request) -> web.StreamResponse:
        body: dict[str, Any] = {"mode": self._mode, "instance": self._instance}
        if self._draining:
            return web.json_response({"status": "draining", **body}, status=503)
        began = time.monotonic()
        try:
            await asyncio.wait_for(self._probe(), HEALTH_TIMEOUT)
        except Exception as error:
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            body["database"] = f"unreachable: {type(error).__name__}: {reason}"
            return web.json_response({"status": "unavailable", **body}, status=503)
        body["database"] = "ok"
        body["database_ms"] = round((time.monotonic() - began) * 1000, 1)
        return web.json_response({"status": "ok", **body})

    async def _on_metrics(self, request: web.Request) -> web.StreamResponse:
        payload = await self._metrics.render()
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _unavailable(reason: str) -> web.Response:
    return web.Response(
        status=503, text=f"Service Unavailable: {reason}", headers={"Retry-After": "1"}
    )
