"""Workshops: the calendar, registrations with a waiting list, attendance.

Capacity holds under concurrency on both databases. A registration (or anything that
changes who holds a seat) first *writes* the workshop row (``UPDATE workshops SET
updated_at = updated_at``), then counts and inserts in the same transaction:

* PostgreSQL: the UPDATE takes the row lock, so a second registration to the same
  workshop waits for the first to commit, then (READ COMMITTED) counts its seat;
* SQLite: the UPDATE opens the write transaction, so writers run one after the other and
  each counts what the previous one committed; "database is locked" is retried.

Reminder rows are planned in the same transactions (:mod:`bot.workshops.reminders`). Nothing here
imports telegram.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.users import Person
from bot.workshops.fields import (
    WorkshopError,
    check_duration,
    check_media_type,
    clean_capacity,
    clean_description,
    clean_title,
)
from bot.workshops.reminders import ReminderQueue
from storage.db import AsyncSession, SessionFactory
from storage.models import Library, Registration, User, Workshop, utcnow

REGISTERED: Final = "registered"
WAITING: Final = "waiting"
CANCELLED: Final = "cancelled"

#: staff can still mark attendance this long after a workshop
ATTENDANCE_WINDOW: Final = dt.timedelta(days=14)
LOCK_RETRIES: Final = 8

T = TypeVar("T")


# -- dates typed by staff ------------------------------------------------------------------

# -- what handlers see ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkshopView:
    id: str
    title: str
    description: str
    starts_at: dt.datetime
    duration_min: int
    capacity: int
    media_type: str | None
    cancelled: bool
    library_id: str
    library_name: str
    library_address: str
    library_commune: str
    registered: int
    waiting: int

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_min)

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.registered)

    @property
    def full(self) -> bool:
        return self.seats_left == 0

    def started(self, now: dt.datetime) -> bool:
        return now >= self.starts_at


@dataclass(frozen=True, slots=True)
class Draft:
    """A workshop as staff are writing it (every field may still be missing)."""

    title: str | None = None
    library_id: str | None = None
    starts_at: dt.datetime | None = None
    duration_min: int | None = None
    capacity: int | None = None
    description: str | None = None
    media_type: str | None = None
    media_set: bool = False  # media_type None means "none chosen" once this is set

    @classmethod
    def of(cls, view: WorkshopView) -> Draft:
        return cls(
            title=view.title,
            library_id=view.library_id,
            starts_at=view.starts_at,
            duration_min=view.duration_min,
            capacity=view.capacity,
            description=view.description,
            media_type=view.media_type,
            media_set=True,
        )

    def missing(self) -> str | None:
        """The first field still to ask, in the order of the conversation."""
        for name in ("title", "library_id", "starts_at", "duration_min", "capacity"):
            if getattr(self, name) is None:
                return name
        if self.description is None:
            return "description"
        if not self.media_set:
            return "media_type"
        return None

    def with_(self, **changes: Any) -> Draft:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone to tell about a workshop (a promotion, a cancellation, a new time)."""

    user_id: int
    telegram_id: int
    language: str
    reachable: bool
    status: str


class Outcome(StrEnum):
    REGISTERED = "registered"
    WAITING = "waiting"
    ALREADY_REGISTERED = "already_registered"
    ALREADY_WAITING = "already_waiting"
    STARTED = "started"
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Registered:
    outcome: Outcome
    position: int | None = None  # on the waiting list


@dataclass(frozen=True, slots=True)
class Unregistered:
    was: str | None  # registered / waiting / None when they held nothing
    promoted: list[Recipient]
    #: why nothing changed although they held a seat: "started" or "ended" (an old button)
    too_late: str | None = None
    #: nothing changed: they hold ``was``, not what the button was for (``only``)
    mismatch: bool = False


@dataclass(frozen=True, slots=True)
class Enrollment:
    status: str  # registered / waiting
    position: int | None


@dataclass(frozen=True, slots=True)
class Registrant:
    registration_id: int
    user_id: int
    telegram_id: int
    first_name: str
    status: str
    attended: bool | None


@dataclass(frozen=True, slots=True)
class Updated:
    view: WorkshopView
    time_changed: bool
    promoted: list[Recipient]
    #: its time or its library changed: the people registered or waiting were told
    moved: bool = False


#: What the people a change concerns are told, queued in the outbox *in the change's own
#: transaction* (``session``): the seat, the cancellation or the new time and its notice
#: commit together, so no crash keeps the one and loses the other. Given the workshop as
#: it is after the change and the people to tell.
Notice = Callable[[AsyncSession, WorkshopView, list[Recipient]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Attendance:
    workshop_id: str
    user_id: int
    library_id: str
    media_type: str | None
    attended: bool
    first_time: bool  # marked present for the first time (counted once in the statistics)


def manages(person: Person, library_id: str | None) -> bool:
    """Staff manage their own library's workshops; coordinators and administrators all."""
    if person.has_role("coordinator"):
        return True
    return person.has_role("staff") and library_id is not None and library_id == person.library_id


def new_workshop_id(starts_at: dt.datetime, tz: ZoneInfo) -> str:
    return f"ws-{starts_at.astimezone(tz):%Y%m%d}-{secrets.token_hex(3)}"


class WorkshopService:
    def __init__(self, sessions: SessionFactory, reminders: ReminderQueue, tz: ZoneInfo) -> None:
        self._sessions = sessions
        self.reminders = reminders
        self.tz = tz

    # -- reading ---------------------------------------------------------------------------

    async def get(self, workshop_id: str) -> WorkshopView | None:
        views = await self._views(Workshop.id == workshop_id)
        return views[0] if views else None

    async def upcoming(
        self, library_id: str | None = None, now: dt.datetime | None = None
    ) -> list[WorkshopView]:
        """Workshops not begun and not cancelled; ``library_id``'s first, then by date."""
        now = now or utcnow()
        views = await self._views(Workshop.starts_at > now, Workshop.cancelled.is_(False))
        return sorted(views, key=lambda v: (v.library_id != library_id, v.starts_at, v.title))

    async def for_staff(
        self, manager: Person | None = None, now: dt.datetime | None = None
    ) -> list[WorkshopView]:
        """The workshops ``manager`` manages (all when None), upcoming ones first by date,
        then those of the last two weeks (for attendance), the latest first."""
        now = now or utcnow()
        conditions = [Workshop.starts_at > now - ATTENDANCE_WINDOW, Workshop.cancelled.is_(False)]
        if manager is not None and not manager.has_role("coordinator"):
            conditions.append(Workshop.library_id == manager.library_id)
        views = await self._views(*conditions)
        coming = sorted((v for v in views if not v.started(now)), key=lambda v: v.starts_at)
        held = sorted((v for v in views if v.started(now)), key=lambda v: v.starts_at)
        return coming + held[::-1]

    async def library_of_registration(self, registration_id: int) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Workshop.library_id)
                .join(Registration, Registration.workshop_id == Workshop.id)
                .where(Registration.id == registration_id)
            )

    async def _views(self, *conditions: ColumnElement[bool]) -> list[WorkshopView]:
        async with self._sessions() as session:
            return await _views_in(session, *conditions)

    async def _view_in(self, session: AsyncSession, workshop_id: str) -> WorkshopView:
        """The workshop as the change under way in ``session`` leaves it."""
        await session.flush()
        views = await _views_in(session, Workshop.id == workshop_id)
        return views[0]

    async def enrollment(self, workshop_id: str, user_id: int) -> Enrollment | None:
        async with self._sessions() as session:
            registration = await session.scalar(
                select(Registration).where(
                    Registration.workshop_id == workshop_id, Registration.user_id == user_id
                )
            )
            if registration is None or registration.status == CANCELLED:
                return None
            position = None
            if registration.status == WAITING:
                position = await _position(session, registration)
            return Enrollment(registration.status, position)

    async def enrollments(self, user_id: int) -> dict[str, str]:
        """Workshop id → registered/waiting, for one patron."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Registration.workshop_id, Registration.status).where(
                    Registration.user_id == user_id, Registration.status != CANCELLED
                )
            )
            return dict(rows.all())

    async def registrants(self, workshop_id: str) -> list[Registrant]:
        """Registered patrons (by name), then the waiting list in order."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Registration, User)
                .join(User, User.id == Registration.user_id)
                .where(
                    Registration.workshop_id == workshop_id,
                    Registration.status.in_((REGISTERED, WAITING)),
                )
                .order_by(Registration.created_at, Registration.id)
            )
            registrants = [
                Registrant(
                    registration_id=reg.id,
                    user_id=user.id,
                    telegram_id=user.telegram_id,
                    first_name=user.first_name,
                    status=reg.status,
                    attended=reg.attended,
                )
                for reg, user in rows.all()
            ]
        registered = sorted(
            (r for r in registrants if r.status == REGISTERED),
            key=lambda r: (r.first_name.casefold(), r.registration_id),
        )
        return registered + [r for r in registrants if r.status == WAITING]

    async def recipients(self, workshop_id: str, statuses: tuple[str, ...]) -> list[Recipient]:
        async with self._sessions() as session:
            return await _recipients_in(session, workshop_id, statuses)

    # -- registrations ---------------------------------------------------------------------

    async def register(
        self, workshop_id: str, user_id: int, now: dt.datetime | None = None
    ) -> Registered:
        """A seat if one is left, else a place on the waiting list."""

        async def attempt(session: AsyncSession) -> tuple[Registered, dt.datetime | None]:
            workshop = await _lock(session, workshop_id)
            moment = now or utcnow()  # after the lock: the queue order is the commit order
            if workshop is None:
                return Registered(Outcome.NOT_FOUND), None
            if workshop.cancelled:
                return Registered(Outcome.CANCELLED), None
            if workshop.starts_at <= moment:
                return Registered(Outcome.STARTED), None
            registration = await session.scalar(
                select(Registration).where(
                    Registration.workshop_id == workshop_id, Registration.user_id == user_id
                )
            )
            if registration is not None and registration.status == REGISTERED:
                return Registered(Outcome.ALREADY_REGISTERED), None
            if registration is not None and registration.status == WAITING:
                position = await _position(session, registration)
                return Registered(Outcome.ALREADY_WAITING, position), None
            taken = await _count(session, workshop_id, REGISTERED)
            status = REGISTERED if taken < workshop.capacity else WAITING
            if registration is None:
                registration = Registration(
                    workshop_id=workshop_id, user_id=user_id, status=status, created_at=moment
                )
                session.add(registration)
            else:  # they had withdrawn: back at the end of the queue
                registration.status, registration.created_at = status, moment
                registration.attended = None
            await session.flush()
            if status == REGISTERED:
                earliest = await self.reminders.plan(
                    session, registration.id, workshop, moment, reactivate=True
                )
                return Registered(Outcome.REGISTERED), earliest
            position = await _position(session, registration)
            return Registered(Outcome.WAITING, position), None

        result, earliest = await self._write(attempt)
        self.reminders.changed(earliest)
        return result

    async def unregister(
        self,
        workshop_id: str,
        user_id: int,
        now: dt.datetime | None = None,
        *,
        tell_promoted: Notice | None = None,
        only: str | None = None,
    ) -> Unregistered:
        """Frees the seat (or the waiting place); the first waiting patron gets the seat
        (and ``tell_promoted`` queues the news in the same transaction). With ``only``
        (``waiting``), nothing changes unless that is what they hold: "Leave the waiting
        list" pressed on an old card after a seat was given must not free the seat.

        Once the workshop has begun nothing changes (``too_late``): a "won't come" pressed on
        an old reminder must not turn an attended, rated registration into a cancellation."""

        async def attempt(session: AsyncSession) -> tuple[Unregistered, dt.datetime | None]:
            workshop = await _lock(session, workshop_id)
            moment = now or utcnow()  # after the lock: the queue order is the commit order
            if workshop is None:
                return Unregistered(None, []), None
            registration = await session.scalar(
                select(Registration).where(
                    Registration.workshop_id == workshop_id, Registration.user_id == user_id
                )
            )
            if registration is None or registration.status == CANCELLED:
                return Unregistered(None, []), None
            if only is not None and registration.status != only:
                return Unregistered(registration.status, [], mismatch=True), None
            if moment >= workshop.starts_at:
                ended = moment >= workshop.starts_at + dt.timedelta(minutes=workshop.duration_min)
                return Unregistered(registration.status, [], "ended" if ended else "started"), None
            was = registration.status
            registration.status = CANCELLED
            await self.reminders.drop_pending(session, [registration.id])
            await session.flush()
            promoted, earliest = await self._promote(session, workshop, moment)
            if promoted and tell_promoted is not None:
                await tell_promoted(session, await self._view_in(session, workshop_id), promoted)
            return Unregistered(was, promoted), earliest

        result, earliest = await self._write(attempt)
        self.reminders.changed(earliest)
        return result

    async def _promote(
        self, session: AsyncSession, workshop: Workshop, now: dt.datetime
    ) -> tuple[list[Recipient], dt.datetime | None]:
        """Waiting patrons take the free seats, first come first served."""
        if workshop.cancelled or workshop.starts_at <= now:
            return [], None
        free = workshop.capacity - await _count(session, workshop.id, REGISTERED)
        if free <= 0:
            return [], None
        rows = await session.execute(
            select(Registration, User)
            .join(User, User.id == Registration.user_id)
            .where(Registration.workshop_id == workshop.id, Registration.status == WAITING)
            .order_by(Registration.created_at, Registration.id)
            .limit(free)
        )
        promoted: list[Recipient] = []
        earliest: dt.datetime | None = None
        for registration, user in rows.all():
            registration.status = REGISTERED
            await session.flush()
            due = await self.reminders.plan(
                session, registration.id, workshop, now, reactivate=True
            )
            if due is not None:
                earliest = due if earliest is None else min(earliest, due)
            promoted.append(_recipient(user, REGISTERED))
        return promoted, earliest

    async def toggle_attendance(self, registration_id: int) -> Attendance | None:
        """Not marked or absent → present; present → absent. None if not registered."""
        async with self._sessions() as session:
            current = await session.get(Registration, registration_id)
            if current is None:
                return None
            attended = current.attended
        return await self.set_attendance(registration_id, attended is not True)

    async def set_attendance(
        self, registration_id: int, attended: bool | None
    ) -> Attendance | None:
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(Registration, Workshop)
                    .join(Workshop, Workshop.id == Registration.workshop_id)
                    .where(Registration.id == registration_id)
                )
            ).first()
            if row is None:
                return None
            registration, workshop = row
            if registration.status != REGISTERED or registration.user_id is None:
                return None  # not registered, or the person erased since
            first_time = registration.attended is None and attended is True
            registration.attended = attended
            return Attendance(
                workshop.id,
                registration.user_id,
                workshop.library_id,
                workshop.media_type,
                bool(attended),
                first_time,
            )

    # -- staff -----------------------------------------------------------------------------

    def check(self, draft: Draft) -> None:
        """Raises WorkshopError for a draft that cannot be saved."""
        # the same rules as the form's, field by field (bot.workshops.fields)
        clean_title(draft.title)
        if not draft.library_id:
            raise WorkshopError("library")
        if draft.starts_at is None:
            raise WorkshopError("starts_at")
        check_duration(draft.duration_min)
        clean_capacity(draft.capacity)
        clean_description(draft.description)
        check_media_type(draft.media_type)

    async def create(self, draft: Draft, now: dt.datetime | None = None) -> WorkshopView:
        self.check(draft)
        assert draft.starts_at is not None
        moment = now or utcnow()
        workshop_id = new_workshop_id(draft.starts_at, self.tz)
        async with self._sessions.begin() as session:
            if await session.get(Library, draft.library_id) is None:
                raise WorkshopError("library")
            session.add(
                Workshop(
                    id=workshop_id,
                    library_id=draft.library_id,
                    title=draft.title,
                    description=draft.description or "",
                    starts_at=draft.starts_at,
                    duration_min=draft.duration_min,
                    capacity=draft.capacity,
                    media_type=draft.media_type,
                    created_at=moment,
                    updated_at=moment,
                )
            )
        view = await self.get(workshop_id)
        assert view is not None
        return view

    async def update(
        self,
        workshop_id: str,
        draft: Draft,
        now: dt.datetime | None = None,
        *,
        tell_promoted: Notice | None = None,
        tell_moved: Notice | None = None,
    ) -> Updated | None:
        """Saves an edit; a new time re-plans the reminders, more seats promote the queue.
        ``tell_promoted`` and ``tell_moved`` (a new time or library: to everyone registered
        or waiting) queue the notices in the same transaction."""
        self.check(draft)

        async def attempt(
            session: AsyncSession,
        ) -> tuple[tuple[bool, list[Recipient], bool] | None, dt.datetime | None]:
            workshop = await _lock(session, workshop_id)
            moment = now or utcnow()  # after the lock: the queue order is the commit order
            if workshop is None or workshop.cancelled:
                return None, None
            if await session.get(Library, draft.library_id) is None:
                raise WorkshopError("library")
            time_changed = (
                workshop.starts_at != draft.starts_at
                or workshop.duration_min != draft.duration_min
            )
            moved = time_changed or (
                bool(draft.library_id) and workshop.library_id != draft.library_id
            )
            workshop.title = draft.title or workshop.title
            workshop.library_id = draft.library_id or workshop.library_id
            workshop.starts_at = draft.starts_at or workshop.starts_at
            workshop.duration_min = draft.duration_min or workshop.duration_min
            workshop.capacity = draft.capacity or workshop.capacity
            workshop.description = draft.description or ""
            workshop.media_type = draft.media_type
            workshop.updated_at = moment
            await session.flush()
            earliest: dt.datetime | None = None
            if time_changed:
                registered = await session.scalars(
                    select(Registration.id).where(
                        Registration.workshop_id == workshop_id,
                        Registration.status == REGISTERED,
                    )
                )
                for registration_id in registered.all():
                    due = await self.reminders.plan(session, registration_id, workshop, moment)
                    if due is not None:
                        earliest = due if earliest is None else min(earliest, due)
            promoted, due = await self._promote(session, workshop, moment)
            if due is not None:
                earliest = due if earliest is None else min(earliest, due)
            if (promoted and tell_promoted) or (moved and tell_moved):
                view = await self._view_in(session, workshop_id)
                if promoted and tell_promoted is not None:
                    await tell_promoted(session, view, promoted)
                if moved and tell_moved is not None:
                    await tell_moved(
                        session,
                        view,
                        await _recipients_in(session, workshop_id, (REGISTERED, WAITING)),
                    )
            return (time_changed, promoted, moved), earliest

        result, earliest = await self._write(attempt)
        self.reminders.changed(earliest)
        if result is None:
            return None
        view = await self.get(workshop_id)
        assert view is not None
        return Updated(view, *result)

    async def cancel(
        self, workshop_id: str, *, tell: Notice | None = None
    ) -> list[Recipient] | None:
        """Cancels the workshop; its pending reminders are dropped; ``tell`` queues the
        notices to those registered or waiting in the same transaction. Who they are."""

        async def attempt(session: AsyncSession) -> tuple[list[Recipient] | None, None]:
            workshop = await _lock(session, workshop_id)
            if workshop is None or workshop.cancelled:
                return None, None
            workshop.cancelled = True
            workshop.updated_at = utcnow()
            rows = (
                await session.execute(
                    select(Registration, User)
                    .join(User, User.id == Registration.user_id)
                    .where(
                        Registration.workshop_id == workshop_id,
                        Registration.status.in_((REGISTERED, WAITING)),
                    )
                    .order_by(Registration.id)
                )
            ).all()
            await self.reminders.drop_pending(session, [reg.id for reg, _ in rows])
            recipients = [_recipient(user, reg.status) for reg, user in rows]
            if tell is not None:
                await tell(session, await self._view_in(session, workshop_id), recipients)
            return recipients, None

        result, _ = await self._write(attempt)
        return result

    # -- transactions ----------------------------------------------------------------------

    async def _write(
        self, attempt: Callable[[AsyncSession], Awaitable[tuple[T, dt.datetime | None]]]
    ) -> tuple[T, dt.datetime | None]:
        """Runs ``attempt`` in one transaction, again when SQLite says it is locked or two
        clicks raced to insert the same registration."""
        for round_ in range(LOCK_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    return await attempt(session)
            except OperationalError as error:
                if "locked" not in str(error).lower() or round_ == LOCK_RETRIES - 1:
                    raise
            except IntegrityError:
                if round_ == LOCK_RETRIES - 1:
                    raise
            await asyncio.sleep(0.02 * (round_ + 1))
        raise AssertionError("unreachable")


# -- helpers -------------------------------------------------------------------------------


async def _recipients_in(
    session: AsyncSession, workshop_id: str, statuses: tuple[str, ...]
) -> list[Recipient]:
    rows = await session.execute(
        select(Registration.status, User)
        .join(User, User.id == Registration.user_id)
        .where(Registration.workshop_id == workshop_id, Registration.status.in_(statuses))
        .order_by(Registration.id)
    )
    return [_recipient(user, status) for status, user in rows.all()]


async def _views_in(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[WorkshopView]:
    counts = (
        select(
            Registration.workshop_id,
            func.sum(_case(Registration.status == REGISTERED)).label("registered"),
            func.sum(_case(Registration.status == WAITING)).label("waiting"),
        )
        .group_by(Registration.workshop_id)
        .subquery()
    )
    query = (
        select(Workshop, Library, counts.c.registered, counts.c.waiting)
        .join(Library, Library.id == Workshop.library_id)
        .outerjoin(counts, counts.c.workshop_id == Workshop.id)
        .where(*conditions)
        .order_by(Workshop.starts_at, Workshop.id)
    )
    rows = (await session.execute(query)).all()
    return [_view(w, lib, int(r or 0), int(q or 0)) for w, lib, r, q in rows]


def _case(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


async def _lock(session: AsyncSession, workshop_id: str) -> Workshop | None:
    """Serialises seat changes of one workshop (row lock on PostgreSQL, write lock on SQLite)."""
    await session.execute(
        update(Workshop)
        .where(Workshop.id == workshop_id)
        .values(updated_at=Workshop.updated_at)
        .execution_options(synchronize_session=False)
    )
    return await session.get(Workshop, workshop_id, populate_existing=True)


async def _count(session: AsyncSession, workshop_id: str, status: str) -> int:
    return int(
        await session.scalar(
            select(func.count(Registration.id)).where(
                Registration.workshop_id == workshop_id, Registration.status == status
            )
        )
        or 0
    )


async def _position(session: AsyncSession, registration: Registration) -> int:
    ahead = await session.scalar(
        select(func.count(Registration.id)).where(
            Registration.workshop_id == registration.workshop_id,
            Registration.status == WAITING,
            (Registration.created_at < registration.created_at)
            | (
                (Registration.created_at == registration.created_at)
                & (Registration.id < registration.id)
            ),
        )
    )
    return int(ahead or 0) + 1


def _recipient(user: User, status: str) -> Recipient:
    return Recipient(user.id, user.telegram_id, user.language, user.reachable, status)


def _view(workshop: Workshop, library: Library, registered: int, waiting: int) -> WorkshopView:
    return WorkshopView(
        id=workshop.id,
        title=workshop.title,
        description=workshop.description,
        starts_at=workshop.starts_at,
        duration_min=workshop.duration_min,
        capacity=workshop.capacity,
        media_type=workshop.media_type,
        cancelled=workshop.cancelled,
        library_id=library.id,
        library_name=library.name,
        library_address=library.address,
        library_commune=library.commune,
        registered=registered,
        waiting=waiting,
    )


# -- calendar file ---------------------------------------------------------------------------


def ics_calendar(view: WorkshopView, url: str | None = None) -> bytes:
    """An iCalendar (.ics) file with the workshop as one event, times in UTC."""
    calendar = Calendar()
    calendar.add("prodid", "-//Plume//workshops//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{view.id}@plume")
    event.add("dtstamp", utcnow())
    event.add("dtstart", view.starts_at.astimezone(dt.UTC))
    event.add("dtend", view.ends_at.astimezone(dt.UTC))
    event.add("summary", view.title)
    place = ", ".join(
        part for part in (view.library_name, view.library_address, view.library_commune) if part
    )
    event.add("location", place)
    description = view.description
    if url:
        description = f"{description}\n\n{url}".strip()
        event.add("url", url)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if view.cancelled else "CONFIRMED")
    calendar.add_component(event)
    return bytes(calendar.to_ical())  # icalendar has no types: bytes, said so
