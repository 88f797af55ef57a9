"""A load balancer in front of several bot instances, as a reverse proxy would be.

The stand-in serves it at ``/lb/<path>``: point every instance's ``PLUME_WEBHOOK_URL`` at
``{api.base_url}/lb/telegram``, register each instance's listener with
``api.balancer.add("http://127.0.0.1:PORT")`` and the stand-in's webhook deliveries are
spread over them round-robin, the path (``/lb/telegram``, which is the path of the
instances' ``PLUME_WEBHOOK_URL``) and the secret header passed on unchanged.

Like nginx's ``proxy_next_upstream error http_503`` (non-idempotent requests are not retried
once sent): an instance that refuses the connection or answers 503 (it is stopping) is skipped
for the next one; any other failure goes back to the caller, whose delivery is then retried.
"""

from __future__ import annotations

import logging
from collections import Counter

import aiohttp
from aiohttp import web

from .updates import SECRET_TOKEN_HEADER

logger = logging.getLogger(__name__)
FORWARDED_HEADERS = ("Content-Type", SECRET_TOKEN_HEADER)


class Balancer:
    """Round-robin over registered backend URLs (``http://host:port``, no path)."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.backends: list[str] = []
        #: requests each backend answered (any status), for tests and benchmarks
        self.served: Counter[str] = Counter()
        #: requests passed on to the next backend, by reason ("refused", "503")
        self.skipped: Counter[str] = Counter()
        self._next = 0
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def add(self, url: str) -> None:
        url = url.rstrip("/")
        if url not in self.backends:
            self.backends.append(url)

    def remove(self, url: str) -> None:
        url = url.rstrip("/")
        if url in self.backends:
            self.backends.remove(url)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {
            name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers
        }
        path = request.path_qs  # passed on unchanged, as nginx's ``proxy_pass http://up;``
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        backends = list(self.backends)
        start = self._next
        self._next += 1
        for offset in range(len(backends)):
            backend = backends[(start + offset) % len(backends)]
            try:
                async with self._session.post(
                    backend + path, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    status, content_type = answer.status, answer.content_type
            except aiohttp.ClientConnectorError:
                self.skipped["refused"] += 1
                continue
            except (TimeoutError, aiohttp.ClientError) as error:
                logger.debug("balancer: %s failed: %r", backend, error)
                return web.Response(status=502, text="Bad Gateway")
            self.served[backend] += 1
            if status == 503 and offset < len(backends) - 1:
                self.skipped["503"] += 1
                continue
            return web.Response(status=status, body=payload, content_type=content_type)
        return web.Response(status=502, text="Bad Gateway: no instance available")
