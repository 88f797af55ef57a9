"""Plume's Prometheus metrics (prometheus-client), one registry per running bot.

A registry of its own rather than the library's global one, so that two instances in one
process (tests) each count their own. Served at ``/metrics`` by :mod:`bot.webhook.listener`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "send_outcome"]
log = logging.getLogger(__name__)

#: Bot API methods that deliver something to a person (counted as sends)
SENDING_PREFIXES = ("send", "copyMessage", "forwardMessage", "editMessage")
ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def send_outcome(status: int | None) -> str:
    """``ok``, ``429``, ``403``, ``400``, ``5xx``, ``other`` or ``error`` (no answer)."""
    if status is None:
        return "error"
    if 200 <= status < 300:
        return "ok"
    if status in (400, 403, 429):
        return str(status)
    return "5xx" if status >= 500 else "other"


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "plume_updates",
            "Updates that reached the gate, by outcome: handled, duplicate (handled before), "
            "busy (another instance is on it), failed",
            ["outcome"],
            registry=registry,
        )
        self.replies = Counter(
            "plume_replies",
            "Messages sent (or edited) in answer to an update, successfully",
            registry=registry,
        )
        self.sends = Counter(
            "plume_telegram_sends",
            "Bot API sending calls by path (reply: answers to updates; outbox: everything Plume "
            "sends on its own) and outcome (ok, 429, 403, 400, 5xx, other, error)",
            ["path", "outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "plume_telegram_429",
            "Bot API calls answered 429 Too Many Requests, by path",
            ["path"],
            registry=registry,
        )
        self.answer_seconds = Histogram(
            "plume_answer_seconds",
            "Time from receiving an update to the end of its handling (replies sent)",
            buckets=ANSWER_BUCKETS,
            registry=registry,
        )
        self.outbox_depth = Gauge(
            "plume_outbox_depth",
            "Messages waiting in the outbox, by kind",
            ["kind"],
            registry=registry,
        )
        self.draining = Gauge(
            "plume_draining",
            "1 while the instance is stopping (it takes no new update)",
            registry=registry,
        )
        #: filled in before each scrape (e.g. the outbox depth, read from the database)
        self.refreshers: list[Callable[[Metrics], Awaitable[None]]] = []

    def record_call(self, path: str, method: str, status: int | None) -> None:
        """One Bot API call made by ``path`` (``reply``; the outbox counts its own)."""
        if not method.startswith(SENDING_PREFIXES):
            return
        outcome = send_outcome(status)
        self.sends.labels(path, outcome).inc()
        if outcome == "429":
            self.rate_limited.labels(path).inc()
        if path == "reply" and outcome == "ok":
            self.replies.inc()

    def set_outbox_depth(self, depth: Mapping[str, int]) -> None:
        self.outbox_depth.clear()
        for kind, count in depth.items():
            self.outbox_depth.labels(kind).set(count)

    async def render(self) -> bytes:
        for refresh in self.refreshers:
            try:
                await refresh(self)
            except Exception as error:  # the database may be away: the rest still counts
                log.warning("metrics: %s failed: %s", getattr(refresh, "__name__", refresh), error)
        return generate_latest(self.registry)
