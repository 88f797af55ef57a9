"""Workshop reminders and rating requests: planned, claimed and settled in the database.

Every message Plume owes a registered patron is one ``reminders`` row, planned when they
register (or are promoted from the waiting list) and re-planned when the workshop moves:

* ``kind="reminder"``: ``offset_s`` seconds before the start (``PLUME_REMINDER_OFFSETS``).
  "24h" means 24 hours of elapsed time: across a daylight-saving change the reminder comes
  at 09:00 or 11:00 local time for a 10:00 workshop. Times are compared in UTC only.
* ``kind="feedback"``: the rating request, ``offset_s`` seconds after the end
  (``PLUME_FEEDBACK_DELAY``).

A row goes ``pending`` → ``sending`` when it falls due: claimed and put in the outbox
(:mod:`bot.outbox`, key ``reminder:<id>``) in one transaction (:meth:`ReminderQueue.hand_over`),
so two senders never queue the same row and a crash loses none. The outbox sends it (paced,
retried for hours on transient failures) and its result comes back here
(:meth:`ReminderQueue.settle_from_outbox`): ``sent`` or ``failed``. A row may also be
``dropped`` (unregistered, cancelled, superseded by a later reminder, workshop already begun).

Rows left ``sending`` with no outbox row (claimed by a version of Plume that sent them
itself, then crashed) may have been sent: :meth:`ReminderQueue.recover` turns them into
``unconfirmed`` and they are never sent again.

Nothing here imports telegram.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import String, and_, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.outbox import REMINDER as OUTBOX_REMINDER
from bot.outbox import SENT as OUTBOX_SENT
from bot.outbox import Settled, enqueue
from bot.search.loader import CATALOGUE_VERSION_KEY
from storage.db import AsyncSession, SessionFactory, affected
from storage.models import Library, Meta, Registration, Reminder, User, Workshop, utcnow
from storage.outbox import OutboxMessage

log = logging.getLogger(__name__)

REMINDER: Final = "reminder"
FEEDBACK: Final = "feedback"

PENDING: Final = "pending"
SENDING: Final = "sending"
SENT: Final = "sent"
FAILED: Final = "failed"
DROPPED: Final = "dropped"
UNCONFIRMED: Final = "unconfirmed"
STATES: Final = (PENDING, SENDING, SENT, FAILED, DROPPED, UNCONFIRMED)

#: a rating request is still worth sending this long after it was due (Plume was down)
FEEDBACK_GRACE: Final = dt.timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Plan:
    """When the messages of one registration are due."""

    kind: str
    offset_s: int
    due_at: dt.datetime


def plan_for(
    starts_at: dt.datetime,
    duration_min: int,
    offsets: Sequence[dt.timedelta],
    feedback_delay: dt.timedelta | None,
) -> list[Plan]:
    """Reminders at ``starts_at - offset`` (elapsed time) and the rating request."""
    plans = [
        Plan(REMINDER, int(offset.total_seconds()), starts_at - offset)
        for offset in dict.fromkeys(offsets)
    ]
    if feedback_delay is not None:
        ends_at = starts_at + dt.timedelta(minutes=duration_min)
        plans.append(Plan(FEEDBACK, int(feedback_delay.total_seconds()), ends_at + feedback_delay))
    return plans


@dataclass(frozen=True, slots=True)
class DueMessage:
    """A due row with everything needed to write the message (in the patron's language)."""

    reminder_id: int
    kind: str
    offset_s: int
    due_at: dt.datetime
    registration_id: int
    registration_status: str
    attended: bool | None
    user_id: int
    telegram_id: int
    language: str
    reachable: bool
    workshop_id: str
    title: str
    starts_at: dt.datetime
    duration_min: int
    cancelled: bool
    media_type: str | None
    library_id: str
    library_name: str
    library_address: str
    library_commune: str

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_min)


@dataclass
class SyncReport:
    created: int = 0
    moved: int = 0
    dropped: int = 0


class ReminderQueue:
    """The reminders table as a queue: plan, resync, fetch what is due, claim, settle."""

    def __init__(
        self,
        sessions: SessionFactory,
        offsets: Sequence[dt.timedelta],
        feedback_delay: dt.timedelta | None,
    ) -> None:
        self._sessions = sessions
        self.offsets = tuple(offsets)
        self.feedback_delay = feedback_delay
        #: called with the earliest new due time after a change (the sender re-arms its job)
        self.on_change: Callable[[dt.datetime], None] | None = None

    # -- planning (inside the callers' transactions) ---------------------------------------

    def plans(self, workshop: Workshop) -> list[Plan]:
        return plan_for(
            workshop.starts_at, workshop.duration_min, self.offsets, self.feedback_delay
        )

    async def plan(
        self,
        session: AsyncSession,
        registration_id: int,
        workshop: Workshop,
        now: dt.datetime,
        *,
        reactivate: bool = False,
    ) -> dt.datetime | None:
        """Brings one registered patron's rows in line with the workshop's time.

        A row whose due time changed becomes pending again if it is still ahead (a moved
        workshop is reminded anew), else dropped unless already sent; a missing row is only
        created if still ahead. ``reactivate`` (re-registration, promotion) revives dropped
        rows still ahead. Returns the earliest pending due time, to wake the sender.
        """
        existing = {
            (row.kind, row.offset_s): row
            for row in await session.scalars(
                select(Reminder).where(Reminder.registration_id == registration_id)
            )
        }
        earliest: dt.datetime | None = None
        for plan in self.plans(workshop):
            row = existing.get((plan.kind, plan.offset_s))
            ahead = plan.due_at > now
            if row is None:
                if ahead:
                    session.add(
                        Reminder(
                            registration_id=registration_id,
                            kind=plan.kind,
                            offset_s=plan.offset_s,
                            due_at=plan.due_at,
                            state=PENDING,
                        )
                    )
                else:
                    continue
            elif row.due_at != plan.due_at:
                row.due_at = plan.due_at
                if ahead and row.state != SENDING:
                    row.state, row.sent_at, row.claimed_at = PENDING, None, None
                elif row.state == PENDING:
                    row.state = DROPPED
            elif reactivate and ahead and row.state == DROPPED:
                row.state = PENDING
            if ahead and (row is None or row.state == PENDING):
                earliest = plan.due_at if earliest is None else min(earliest, plan.due_at)
        return earliest

    async def drop_pending(self, session: AsyncSession, registration_ids: Iterable[int]) -> int:
        ids = list(registration_ids)
        if not ids:
            return 0
        result = await session.execute(
            update(Reminder)
            .where(Reminder.registration_id.in_(ids), Reminder.state == PENDING)
            .values(state=DROPPED)
        )
        return affected(result)

    def changed(self, earliest: dt.datetime | None) -> None:
        """After the caller's commit: tell the sender about a new earliest due time."""
        if earliest is not None and self.on_change is not None:
            self.on_change(earliest)

    # -- at start, and when the catalogue changes -----------------------------------------

    async def recover(self, now: dt.datetime | None = None) -> int:
        """Rows a crash left in ``sending`` without their outbox row become ``unconfirmed``
        (possibly sent: not resent). Those in the outbox are the outbox's to send."""
        queued = select(OutboxMessage.id).where(
            OutboxMessage.dedupe_key == literal("reminder:") + func.cast(Reminder.id, String)
        )
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.state == SENDING, ~queued.exists())
                .values(state=UNCONFIRMED)
                .execution_options(synchronize_session=False)
            )
            count = affected(result)
        if count:
            log.warning("%d reminders were being sent when Plume stopped: not resent", count)
        return count

    async def resync(self, now: dt.datetime | None = None) -> SyncReport:
        """Every registered patron of a live workshop has their rows, at the right times.

        Creates the rows of registrations made elsewhere (an import, another process), moves
        rows of workshops whose time changed (a new ``workshops.csv``), drops pending rows
        of cancelled workshops, withdrawn registrations and offsets no longer configured.
        Reminders already due are left pending: the sender sends them if the workshop has
        not begun.
        """
        now = now or utcnow()
        report = SyncReport()
        wanted_offsets = {
            (p.kind, p.offset_s) for p in plan_for(now, 60, self.offsets, self.feedback_delay)
        }
        async with self._sessions.begin() as session:
            stale = (
                select(Reminder.id)
                .join(Registration, Registration.id == Reminder.registration_id)
                .join(Workshop, Workshop.id == Registration.workshop_id)
                .where(
                    Reminder.state == PENDING,
                    (Registration.status != "registered") | Workshop.cancelled.is_(True),
                )
            )
            stale_ids = list(await session.scalars(stale))
            rows = (
                await session.execute(
                    select(Reminder.id, Reminder.kind, Reminder.offset_s).where(
                        Reminder.state == PENDING
                    )
                )
            ).all()
            stale_ids += [r.id for r in rows if (r.kind, r.offset_s) not in wanted_offsets]
            if stale_ids:
                for chunk in _chunks(sorted(set(stale_ids)), 500):
                    result = await session.execute(
                        update(Reminder).where(Reminder.id.in_(chunk)).values(state=DROPPED)
                    )
                    report.dropped += affected(result)
            live = (
                await session.execute(
                    select(Registration.id, Workshop)
                    .join(Workshop, Workshop.id == Registration.workshop_id)
                    .where(
                        Registration.status == "registered",
                        Workshop.cancelled.is_(False),
                        Workshop.starts_at > now - self._longest_after(),
                    )
                )
            ).all()
            existing: dict[tuple[int, str, int], tuple[int, dt.datetime, str]] = {}
            registration_ids = [r[0] for r in live]
            for chunk in _chunks(registration_ids, 500):
                for row in await session.execute(
                    select(
                        Reminder.id,
                        Reminder.registration_id,
                        Reminder.kind,
                        Reminder.offset_s,
                        Reminder.due_at,
                        Reminder.state,
                    ).where(Reminder.registration_id.in_(chunk))
                ):
                    key = (row.registration_id, row.kind, row.offset_s)
                    existing[key] = (row.id, row.due_at, row.state)
            inserts: list[dict[str, Any]] = []
            earliest: dt.datetime | None = None
            for registration_id, workshop in live:
                for plan in self.plans(workshop):
                    found = existing.get((registration_id, plan.kind, plan.offset_s))
                    ahead = plan.due_at > now
                    if found is None:
                        if ahead:
                            inserts.append(
                                {
                                    "registration_id": registration_id,
                                    "kind": plan.kind,
                                    "offset_s": plan.offset_s,
                                    "due_at": plan.due_at,
                                    "state": PENDING,
                                }
                            )
                            report.created += 1
                    elif found[1] != plan.due_at:
                        state = found[2]
                        if ahead and state != SENDING:
                            state = PENDING
                        elif state == PENDING:
                            state = DROPPED
                        await session.execute(
                            update(Reminder)
                            .where(Reminder.id == found[0])
                            .values(due_at=plan.due_at, state=state)
                        )
                        report.moved += 1
                    else:
                        continue
                    if ahead:
                        earliest = plan.due_at if earliest is None else min(earliest, plan.due_at)
            for chunk in _chunks(inserts, 1000):
                statement = _insert_ignoring_duplicates(session, chunk)
                await session.execute(statement)
        if report.created or report.moved or report.dropped:
            log.info(
                "reminders resynced: %d created, %d moved, %d dropped",
                report.created,
                report.moved,
                report.dropped,
            )
        self.changed(earliest)
        return report

    def _longest_after(self) -> dt.timedelta:
        """How long after a workshop's start its rows may still be due."""
        delay = self.feedback_delay or dt.timedelta(0)
        return dt.timedelta(days=1) + delay + FEEDBACK_GRACE

    async def catalogue_version(self) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Meta.value).where(Meta.key == CATALOGUE_VERSION_KEY)
            )

    # -- sending ---------------------------------------------------------------------------

    async def next_due(self, exclude: Iterable[int] = ()) -> dt.datetime | None:
        excluded = list(exclude)
        async with self._sessions() as session:
            query = select(func.min(Reminder.due_at)).where(Reminder.state == PENDING)
            if excluded:
                query = query.where(Reminder.id.not_in(excluded))
            return await session.scalar(query)

    async def fetch_due(
        self, now: dt.datetime, limit: int = 100, exclude: Iterable[int] = ()
    ) -> list[DueMessage]:
        """Pending rows due by ``now``, earliest first, with the patron and the workshop."""
        excluded = list(exclude)
        query = (
            select(Reminder, Registration, User, Workshop, Library)
            .join(Registration, Registration.id == Reminder.registration_id)
            .join(User, User.id == Registration.user_id)
            .join(Workshop, Workshop.id == Registration.workshop_id)
            .join(Library, Library.id == Workshop.library_id)
            .where(Reminder.state == PENDING, Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
        if excluded:
            query = query.where(Reminder.id.not_in(excluded))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            DueMessage(
                reminder_id=reminder.id,
                kind=reminder.kind,
                offset_s=reminder.offset_s,
                due_at=reminder.due_at,
                registration_id=registration.id,
                registration_status=registration.status,
                attended=registration.attended,
                user_id=user.id,
                telegram_id=user.telegram_id,
                language=user.language,
                reachable=user.reachable,
                workshop_id=workshop.id,
                title=workshop.title,
                starts_at=workshop.starts_at,
                duration_min=workshop.duration_min,
                cancelled=workshop.cancelled,
                media_type=workshop.media_type,
                library_id=library.id,
                library_name=library.name,
                library_address=library.address,
                library_commune=library.commune,
            )
            for reminder, registration, user, workshop, library in rows
        ]

    @staticmethod
    def verdict(message: DueMessage, now: dt.datetime, batch: Sequence[DueMessage] = ()) -> str:
        """``send``, or why the row is dropped instead."""
        if message.cancelled or message.registration_status != "registered":
            return "withdrawn"
        if message.kind == REMINDER:
            if now >= message.starts_at:
                return "too late"  # due while Plume was down, and the workshop has begun
            later = [
                other
                for other in batch
                if other.registration_id == message.registration_id
                and other.kind == REMINDER
                and other.offset_s < message.offset_s
            ]
            if later:
                return "superseded"  # a nearer reminder is due too: send only that one
            return "send"
        if message.attended is False:
            return "absent"
        if now > message.due_at + FEEDBACK_GRACE:
            return "too late"
        return "send"

    async def claim(self, reminder_id: int, now: dt.datetime | None = None) -> bool:
        """``pending`` → ``sending``; False when someone else claimed or dropped it first."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, Reminder.state == PENDING)
                .values(state=SENDING, claimed_at=now or utcnow())
            )
            return bool(affected(result))

    async def hand_over(
        self,
        reminder_id: int,
        telegram_id: int,
        text: str,
        reply_markup: Mapping[str, Any] | None,
    ) -> bool:
        """``pending`` → ``sending`` and its message in the outbox, in one transaction; False
        when someone else claimed or dropped it first (nothing queued then)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, Reminder.state == PENDING)
                .values(state=SENDING, claimed_at=utcnow())
            )
            if not affected(result):
                return False
            await enqueue(
                session,
                kind="reminder",
                chat_id=telegram_id,
                text=text,
                reply_markup=reply_markup,
                ref=str(reminder_id),
                dedupe_key=f"reminder:{reminder_id}",
                priority=OUTBOX_REMINDER,
            )
            return True

    async def settle_from_outbox(self, session: AsyncSession, rows: Sequence[Settled]) -> None:
        """The outbox's verdicts on reminder rows (in the transaction that records them)."""
        for row in rows:
            if row.ref is None or not row.ref.isdigit():
                continue
            state = SENT if row.state == OUTBOX_SENT else FAILED
            await session.execute(
                update(Reminder)
                .where(Reminder.id == int(row.ref), Reminder.state == SENDING)
                .values(state=state, sent_at=row.at if state == SENT else None)
            )

    async def settle(
        self, reminder_id: int, state: str, sent_at: dt.datetime | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id)
                .values(state=state, sent_at=sent_at)
            )

    async def drop(self, reminder_ids: Iterable[int]) -> int:
        ids = list(reminder_ids)
        if not ids:
            return 0
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Reminder)
                .where(Reminder.id.in_(ids), Reminder.state == PENDING)
                .values(state=DROPPED)
            )
            return affected(result)

    async def counts(self) -> dict[str, int]:
        """Rows per state (for logs, tests and the benchmark)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Reminder.state, func.count(Reminder.id)).group_by(Reminder.state)
            )
            return dict(rows.all())

    async def for_registration(self, registration_id: int) -> list[Reminder]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Reminder)
                    .where(Reminder.registration_id == registration_id)
                    .order_by(Reminder.due_at)
                )
            )

    async def for_workshop(self, workshop_id: str) -> list[Reminder]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Reminder)
                    .join(Registration, Registration.id == Reminder.registration_id)
                    .where(and_(Registration.workshop_id == workshop_id))
                    .order_by(Reminder.due_at, Reminder.id)
                )
            )


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert_ignoring_duplicates(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING (a registration planned meanwhile keeps its rows)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Reminder).values(list(rows)).on_conflict_do_nothing()
