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

Each event also updates the rollups the statistics read (``usage_daily``: counts per local
day; ``usage_presence``/``usage_active``: distinct active patrons per day, week and month,
network-wide and per library), in the same transaction.

``library_id`` defaults to nothing; callers pass the patron's home library when they have
it (``person.library_id``) so statistics can be given per library. Recording never raises:
statistics must not break what the patron is doing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import SessionFactory
from storage.models import UsageActive, UsageDaily, UsageEvent, UsagePresence, utcnow

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

    def __init__(self, sessions: SessionFactory, tz: ZoneInfo | None = None) -> None:
        self._sessions = sessions
        self.tz = tz or ZoneInfo("Europe/Paris")

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
                await self._roll_up(session, event)
        except (SQLAlchemyError, OSError) as error:
            log.warning("usage event %s not recorded: %s", kind, error)
            return False
        return True

    async def _roll_up(self, session: AsyncSession, event: UsageEvent) -> None:
        dialect = session.bind.dialect.name
        day = event.occurred_at.astimezone(self.tz).date()
        answered = 1 if event.kind == QUESTION and event.answered else 0
        key = {
            "kind": event.kind,
            "library_id": event.library_id or "",
            "media_type": event.media_type or "",
            "day": day,
        }
        await session.execute(
            _upsert(dialect, UsageDaily, {**key, "events": 1, "answered": answered}, key)
        )
        if event.user_id is None:
            return
        buckets = {"d": day, "w": day - dt.timedelta(days=day.weekday()), "m": day.replace(day=1)}
        scopes = sorted({""} | ({event.library_id} if event.library_id else set()))
        for grain, bucket in buckets.items():
            for library in scopes:
                where = {"grain": grain, "bucket": bucket, "library_id": library}
                added = await session.execute(
                    _insert(dialect, UsagePresence)
                    .values(**where, user_id=event.user_id)
                    .on_conflict_do_nothing()
                )
                if added.rowcount:  # type: ignore[attr-defined]
                    await session.execute(
                        _upsert(dialect, UsageActive, {**where, "patrons": 1}, where)
                    )

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


def _insert(dialect: str, model: type) -> postgresql.Insert | sqlite.Insert:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _upsert(
    dialect: str, model: type, values: dict[str, object], key: dict[str, object]
) -> Insert:
    """INSERT the row, or add its counters to the row already there."""
    statement = _insert(dialect, model).values(**values)
    counters = {
        name: getattr(model, name) + getattr(statement.excluded, name)
        for name in values
        if name not in key
    }
    return statement.on_conflict_do_update(index_elements=list(key), set_=counters)
