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

Every event goes through :func:`add_events`, the one path (the recorder's methods and the
announcements use it). It keeps only what counts: events of patrons (``users.role`` is
``patron`` at that moment; staff, coordinators and administrators are never counted) and
events without a person (``broadcast_sent``). The person becomes a random ``actor`` number
(``usage_actors``, created on first use): events hold no user id, and erasing a person
deletes that link, so every past figure stays the same and nothing links back. The local
``day``/``week``/``month`` are stored with the event; there are no roll-up tables: the
statistics group the events through covering indexes (see ``storage/models.py``).

``library_id`` defaults to nothing; callers pass the patron's home library when they have
it (``person.library_id``) so statistics can be given per library. Recording never raises:
statistics must not break what the patron is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy.masking import mask_optional
from storage.db import SessionFactory
from storage.models import UsageEvent, User, utcnow
from storage.report import UsageActor

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


@dataclass(frozen=True, slots=True)
class Event:
    """One usage event before it is stored (``user_id`` becomes the person's actor)."""

    kind: str
    user_id: int | None = None
    library_id: str | None = None
    media_type: str | None = None
    subject_id: str | int | None = None
    query: str | None = None
    raw_text: str | None = None
    score: float | None = None
    answered: bool | None = None
    occurred_at: dt.datetime | None = None


_CHUNK = 2000
#: the table itself (Core's INSERT, see add_events)
_EVENTS = UsageEvent.metadata.tables[UsageEvent.__tablename__]


def _padded(ids: list[int]) -> list[int]:
    """``ids`` with its last one repeated up to a power of two long. Each length of an IN
    list is a new SQL text: on PostgreSQL the driver then prepares the statement again
    (a round trip more, parsed and planned anew) for nearly every batch of events; padded,
    a dozen texts serve every size and stay prepared. A repeated id changes nothing."""
    size = 1 << (len(ids) - 1).bit_length()
    return ids + ids[-1:] * (size - len(ids))


async def actors_of(session: AsyncSession, user_ids: set[int]) -> dict[int, int]:
    """The actor number of each of ``user_ids`` who is a patron (created when missing)."""
    found: dict[int, int | None] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await session.execute(
            select(User.id, UsageActor.actor)
            .outerjoin(UsageActor, UsageActor.user_id == User.id)
            .where(User.id.in_(_padded(chunk)), User.role == "patron")
        )
        found.update({row.id: row.actor for row in rows})
    missing = [user for user, actor in found.items() if actor is None]
    if missing:
        dialect = session.get_bind().dialect.name
        fresh = [{"user_id": u, "actor": secrets.randbits(62) + 1} for u in missing]
        # another transaction may create the same person's actor: keep whichever came first
        statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(UsageActor)
        for start in range(0, len(fresh), _CHUNK):
            await session.execute(
                statement.on_conflict_do_nothing(), fresh[start : start + _CHUNK]
            )
        for start in range(0, len(missing), _CHUNK):
            rows = await session.execute(
                select(UsageActor.user_id, UsageActor.actor).where(
                    UsageActor.user_id.in_(_padded(missing[start : start + _CHUNK]))
                )
            )
            found.update({row.user_id: row.actor for row in rows})
    return {user: actor for user, actor in found.items() if actor is not None}


async def add_events(session: AsyncSession, tz: ZoneInfo, events: list[Event]) -> int:
    """The one path of every usage event, inside the caller's transaction; how many count.

    An event of a person who is not a patron (or no longer exists) is not stored.
    """
    for event in events:
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown usage event kind {event.kind!r}")
    people = {e.user_id for e in events if e.user_id is not None}
    actors = await actors_of(session, people) if people else {}
    now = utcnow()
    rows = []
    for event in events:
        if event.user_id is not None and event.user_id not in actors:
            continue
        moment = event.occurred_at or now
        day = moment.astimezone(tz).date()
        rows.append(
            {
                "occurred_at": moment,
                "day": day,
                "week": day - dt.timedelta(days=day.weekday()),
                "month": day.replace(day=1),
                "actor": actors.get(event.user_id) if event.user_id is not None else None,
                "kind": event.kind,
                "library_id": _cut(event.library_id, 64),
                "media_type": _cut(event.media_type, 16),
                "subject_id": _cut(event.subject_id, 64),
                "query": _cut(mask_optional(event.query), _TEXT_LIMIT),
                "raw_text": _cut(mask_optional(event.raw_text), _TEXT_LIMIT),
                "score": float(event.score) if event.score is not None else None,
                "answered": event.answered,
            }
        )
    # Core's INSERT of the table, every column in every row (None as NULL): the ORM's bulk
    # insert left out the None values, so a batch of events of different shapes (a
    # question, a card view, with or without a library) was one statement a shape, each row
    # also through the ORM's defaults; the stored rows are the same (every such column's
    # default is NULL)
    for start in range(0, len(rows), _CHUNK):
        await session.execute(insert(_EVENTS), rows[start : start + _CHUNK])
    return len(rows)


def question_event(
    *,
    user_id: int | None,
    query: str,
    raw_text: str,
    answered: bool,
    score: float | None = None,
    subject_id: str | None = None,
    media_type: str | None = None,
    library_id: str | None = None,
) -> Event:
    """A question's event; the raw text is kept only when it went unanswered."""
    return Event(
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


#: how long a question's event waits to be written with the others of its batch
BATCH_EVERY = 0.1
#: events waiting at most; beyond (the database away for long) new ones are left out
BATCH_LIMIT = 10_000
#: after a failed batch, the next try (the events wait meanwhile)
BATCH_RETRY = 1.0


class UsageRecorder:
    """Writes usage events; ``services.usage`` in the bot.

    ``record`` writes at once. ``later`` is the write-behind of the hot path (every
    question): the event joins a buffer written as one transaction ``BATCH_EVERY`` seconds
    after the first of them, however many came meanwhile (under load a batch holds dozens,
    written in four round trips instead of four each). ``close`` writes what waits (on
    SIGTERM, before the engine goes); a SIGKILL loses what waited, at most the last
    ``BATCH_EVERY`` seconds of questions (more only while the database is away: a failed
    batch is kept, up to ``BATCH_LIMIT`` events, and tried again every ``BATCH_RETRY``).
    """

    def __init__(
        self,
        sessions: SessionFactory,
        tz: ZoneInfo | None = None,
        *,
        batch_every: float = BATCH_EVERY,
        batch_limit: int = BATCH_LIMIT,
    ) -> None:
        self._sessions = sessions
        self.tz = tz or ZoneInfo("Europe/Paris")
        self._batch_every = batch_every
        self._batch_limit = batch_limit
        self._waiting: list[Event] = []
        self._writer: asyncio.Task[None] | None = None
        self._written = asyncio.Event()  # set when nothing waits to be written
        self._written.set()
        self._closing = asyncio.Event()
        self.left_out = 0  # events not kept because too many waited

    def later(self, event: Event) -> None:
        """Queues ``event`` for the next batch (never raises, never waits)."""
        if event.kind not in EVENT_KINDS:
            log.warning("unknown usage event kind %r ignored", event.kind)
            return
        if len(self._waiting) >= self._batch_limit:
            self.left_out += 1
            if self.left_out % 1000 == 1:
                log.warning("usage events left out: %s waiting already", len(self._waiting))
            return
        if event.occurred_at is None:  # its time is when it happened, not when written
            event = dataclasses.replace(event, occurred_at=utcnow())
        self._waiting.append(event)
        self._written.clear()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon(), name="plume-usage-flush")

    async def _write_soon(self) -> None:
        pause = self._batch_every
        while self._waiting:
            with contextlib.suppress(TimeoutError):  # the pause, cut short by close()
                await asyncio.wait_for(self._closing.wait(), pause)
            written = await self._write_waiting()
            if self._closing.is_set():
                break  # the stop's one last try
            pause = self._batch_every if written else BATCH_RETRY
        self._written.set()

    async def _write_waiting(self) -> bool:
        """One batch of what waits; False (and the events kept) when it could not be written."""
        batch, self._waiting = self._waiting, []
        if await self._store(batch):
            return True
        room = max(0, self._batch_limit - len(self._waiting))
        self.left_out += max(0, len(batch) - room)
        self._waiting[:0] = batch[:room]
        return False

    async def settled(self) -> None:
        """Returns once every event queued so far is written (or given up)."""
        await self._written.wait()

    async def close(self) -> None:
        """Writes what waits, at once, one last try (on stop; the caller bounds the wait)."""
        self._closing.set()
        writer = self._writer
        if writer is not None and not writer.done():
            await writer
        elif self._waiting:
            await self._write_waiting()
        if self._waiting:
            log.warning("%s usage events not written at the stop", len(self._waiting))
        self._written.set()

    async def _store(self, events: list[Event]) -> bool:
        for attempt in range(2):
            try:
                async with self._sessions.begin() as session:
                    await add_events(session, self.tz, events)
                return True
            except IntegrityError as error:  # someone was erased meanwhile; once more
                if attempt:
                    log.warning("%s usage events not recorded: %s", len(events), error)
            except (SQLAlchemyError, OSError) as error:
                log.warning("%s usage events not recorded: %s", len(events), error)
                return False
        return False

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
        """Stores one event; False (and a log line) when it could not be stored. An event
        of someone who is not a patron is left out (True: nothing went wrong)."""
        event = Event(
            kind,
            user_id,
            library_id,
            media_type,
            subject_id,
            query,
            raw_text,
            score,
            answered,
            occurred_at,
        )
        return await self.write(event)

    async def write(self, event: Event) -> bool:
        """``record`` of a built event, at once (``later`` is its write-behind twin)."""
        if event.kind not in EVENT_KINDS:
            log.warning("unknown usage event kind %r ignored", event.kind)
            return False
        return await self._store([event])

    # Convenience wrappers (a question: ``write(question_event(…))``) -----------------
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
