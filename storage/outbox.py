"""The outbox: every message Plume sends on its own initiative, as a row before it is sent.

See :mod:`bot.outbox` for the states, the claims and who drains it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime, utcnow


class OutboxMessage(Base):
    """One Bot API call to make (``method`` with ``payload``, a JSON object, to ``chat_id``)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # the claim: ready rows of one lane, most urgent first
        Index("ix_outbox_ready", "state", "paid", "priority", "id"),
        Index("ix_outbox_campaign_state", "campaign", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    payload: Mapped[str] = mapped_column(Text, default="{}")
    #: rows sent together and reported together (``announcement:12``)
    campaign: Mapped[str | None] = mapped_column(String(40), default=None)
    #: what the row is about, for the feature that enqueued it (a reminder's id...)
    ref: Mapped[str | None] = mapped_column(String(64), default=None)
    #: a second enqueue with the same key adds nothing
    dedupe_key: Mapped[str | None] = mapped_column(String(160), default=None, unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxLease(Base):
    """Who drains the outbox (one instance at a time), until when."""

    __tablename__ = "outbox_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
