"""Tables of the multi-instance update path: updates already taken, conversation state.

``handled_updates``: one row per update_id, inserted (insert-or-ignore) before any handler
runs, so an update delivered twice — Telegram retries webhook deliveries, a load balancer may
hand the retry to another instance — is handled once. ``done_at`` stays empty while the
update is being handled: an instance that died mid-way leaves a row a retry may take over once
``claimed_at`` is older than the lease.

``conversation_states`` and ``person_state`` hold what python-telegram-bot keeps in memory
(ConversationHandler states, ``user_data``), as JSON, so a form continues after a restart or
on another instance (see :mod:`bot.persistence`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime


class HandledUpdate(Base):
    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    instance: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConversationState(Base):
    __tablename__ = "conversation_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the ConversationHandler's key as JSON, e.g. ``[chat_id, user_id]``
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PersonState(Base):
    """One person's ``user_data`` (drafts, pending prompts), as JSON."""

    __tablename__ = "person_state"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
