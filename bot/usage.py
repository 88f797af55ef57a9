"""Usage events: what patrons do with Plume, recorded for the coordinators' statistics.

Every event is one ``usage_events`` row. ``user_id`` is our internal ``users.id`` — the
pseudonym used in statistics — never a Telegram id. Event kinds and the fields they fill:

``question``
    A patron asked something in plain text. ``query`` = the normalised text, ``raw_text`` =
    the text as typed, kept only when the question went unanswered (so coordinators can
    improve the FAQ), ``score`` = the best result's score, ``answered`` = whether Plume gave
    an answer, ``subject_id`` = the best result's id, ``media_type`` = its media type.
``card_view``
    A patron opened a card: ``subject_id`` = the FAQ entry, resource or item id,
    ``media_type``.
``registration`` / ``unregistration`` / ``attendance``
    Workshops: ``subject_id`` = the workshop id, ``library_id``, ``media_type``.
``broadcast_sent`` / ``broadcast_reached``
    Announcements: ``subject_id`` = the announcement id, ``media_type``. ``sent`` is one row
    per announcement sent (or per attempted delivery), ``reached`` one row per patron the
    message reached.
``subscription`` / ``unsubscription``
    ``media_type`` for a media topic, or the topic (``events``, ``news``) in ``subject_id``.
``command``
    ``subject_id`` = the command's name (``start``, ``help``...).

``library_id`` defaults to nothing; callers pass the patron's home library when they have
it (``person.library_id``) so statistics can be given per library. Recording never raises:
statistics must not break what the patron is doing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from storage.db import SessionFactory
from storage.models import UsageEvent, utcnow

log = logging.getLogger(__name__)

QUESTION: Final = "question"
CARD_VIEW: Final = "card_view"
REGISTRATION: Final = "registration"
UNREGISTRATION: Final = "unregistration"
ATTENDANCE: Final = "attendance"
BROADCAST_SENT: Final = "broadcast_sent"
BROADCAST_REACHED: Final = "broadcast_reached"
SUBSCRIPTION: Final = "subscription"
UNSUBSCRIPTION: Final = "unsubscription"
COMMAND: Final = "command"

EVENT_KINDS: Final = (
    QUESTION,
    CARD_VIEW,
    REGISTRATION,
    UNREGISTRATION,
    ATTENDANCE,
    BROADCAST_SENT,
    BROADCAST_REACHED,
    SUBSCRIPTION,
    UNSUBSCRIPTION,
    COMMAND,
)

_TEXT_LIMIT = 1000  # a question longer than this is cut (it is statistics, not an archive)


def _cut(value: object, limit: int) -> str | None:
    if value is None:
        return None
    return str(value)[:limit]


class UsageRecorder:
    """Writes usage events; ``services.usage`` in the bot."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def record(
        self,
        kind: str,
        *,
        user_id: int | None = None,
        library_id: str | None = None,
        media_type: str | None = None,
        subject_id: str | int | None = None,
        query: str | None = None,
        raw_text: str | None = None,
        score: float | None = None,
        answered: bool | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> bool:
        """Stores one event; False (and a log line) when it could not be stored."""
        if kind not in EVENT_KINDS:
            log.warning("unknown usage event kind %r ignored", kind)
            return False
        event = UsageEvent(
            occurred_at=occurred_at or utcnow(),
            user_id=user_id,
            kind=kind,
            library_id=_cut(library_id, 64),
            media_type=_cut(media_type, 16),
            subject_id=_cut(subject_id, 64),
            query=_cut(query, _TEXT_LIMIT),
            raw_text=_cut(raw_text, _TEXT_LIMIT),
            score=float(score) if score is not None else None,
            answered=answered,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(event)
        except (SQLAlchemyError, OSError) as error:
            log.warning("usage event %s not recorded: %s", kind, error)
            return False
        return True

    # Convenience wrappers -------------------------------------------------------------

    async def question(
        self,
        *,
        user_id: int | None,
        query: str,
        raw_text: str,
        answered: bool,
        score: float | None = None,
        subject_id: str | None = None,
        media_type: str | None = None,
        library_id: str | None = None,
    ) -> bool:
        """A question; the raw text is kept only when it went unanswered."""
        return await self.record(
            QUESTION,
            user_id=user_id,
            library_id=library_id,
            media_type=media_type,
            subject_id=subject_id,
            query=query,
            raw_text=None if answered else raw_text,
            score=score,
            answered=answered,
        )

    async def card_view(
        self,
        *,
        user_id: int | None,
        subject_id: str,
        media_type: str | None = None,
        library_id: str | None = None,
    ) -> bool:
        return await self.record(
            CARD_VIEW,
            user_id=user_id,
            subject_id=subject_id,
            media_type=media_type,
            library_id=library_id,
        )

    async def command(
        self, name: str, *, user_id: int | None = None, library_id: str | None = None
    ) -> bool:
        return await self.record(COMMAND, user_id=user_id, subject_id=name, library_id=library_id)
