"""The outbox, seen from /metrics: its sends by outcome and its depth by kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from bot.outbox.transport import Answer, Transport, Verdict
from bot.webhook.metrics import Metrics
from storage.db import SessionFactory
from storage.outbox import OutboxMessage

#: a verdict as the outcome label every path shares
OUTCOME_OF = {
    Verdict.SENT: "ok",
    Verdict.RATE_LIMITED: "429",
    Verdict.UNREACHABLE: "403",
    Verdict.REFUSED: "400",
    Verdict.CAMPAIGN_FATAL: "400",
    Verdict.TRANSIENT: "5xx",
}
#: rows not yet sent, nor given up
WAITING_STATES = ("pending", "sending")


class MeteredTransport:
    """The outbox's transport, counting each call in ``plume_telegram_sends{path="outbox"}``."""

    def __init__(self, inner: Transport, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    async def call(self, method: str, chat_id: int, payload: dict[str, Any]) -> Answer:
        answer = await self.inner.call(method, chat_id, payload)
        outcome = OUTCOME_OF.get(answer.verdict, "other")
        self._metrics.sends.labels("outbox", outcome).inc()
        if outcome == "429":
            self._metrics.rate_limited.labels("outbox").inc()
        return answer

    def __getattr__(self, name: str) -> Any:  # start(), close()... of the real transport
        return getattr(self.inner, name)


def outbox_depth_refresher(sessions: SessionFactory) -> Callable[[Metrics], Awaitable[None]]:
    """Reads the outbox depth by kind before each scrape (one grouped count)."""

    async def refresh(metrics: Metrics) -> None:
        async with sessions() as session:
            rows = await session.execute(
                select(OutboxMessage.kind, func.count())
                .where(OutboxMessage.state.in_(WAITING_STATES))
                .group_by(OutboxMessage.kind)
            )
            metrics.set_outbox_depth(dict(rows.all()))

    return refresh
