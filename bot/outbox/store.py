"""The outbox table as a queue: enqueue (inside the caller's transaction), claim, settle."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.users import unreachable
from storage.db import AsyncSession, SessionFactory, affected
from storage.models import User, utcnow
from storage.outbox import OutboxLease, OutboxMessage

log = logging.getLogger(__name__)

PENDING: Final = "pending"
SENDING: Final = "sending"
SENT: Final = "sent"
UNREACHABLE: Final = "unreachable"
FAILED: Final = "failed"  # refused for a permanent reason, or given up after hours
CANCELLED: Final = "cancelled"
SETTLED: Final = (SENT, UNREACHABLE, FAILED, CANCELLED)

#: priorities: lower goes first (a cancellation notice before a broadcast's next message)
URGENT: Final = 0
NOTICE: Final = 2
REMINDER: Final = 4
BULK: Final = 6

DRAIN_LEASE: Final = "drain"

O = OutboxMessage  # noqa: E741  (the statements read better short)


def message_payload(
    text: str,
    *,
    reply_markup: Mapping[str, Any] | None = None,
    parse_mode: str | None = "HTML",
    preview: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The parameters of a ``sendMessage`` (or ``editMessageText``) as Plume sends them:
    HTML, no link preview (PTB's ``Defaults`` of the replies)."""
    payload: dict[str, Any] = {"text": text, **extra}
    if parse_mode:
        payload["parse_mode"] = parse_mode
    if not preview:
        payload["link_preview_options"] = {"is_disabled": True}
    if reply_markup is not None:
        payload["reply_markup"] = dict(reply_markup)
    return payload


def _insert(session: AsyncSession) -> Any:
    bind = session.bind
    return pg_insert if bind is not None and bind.dialect.name == "postgresql" else sqlite_insert


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    chat_id: int,
    text: str | None = None,
    reply_markup: Mapping[str, Any] | None = None,
    method: str = "sendMessage",
    payload: Mapping[str, Any] | None = None,
    campaign: str | None = None,
    ref: str | None = None,
    dedupe_key: str | None = None,
    not_before: dt.datetime | None = None,
    priority: int = NOTICE,
    paid: bool = False,
    replace: bool = False,
) -> bool:
    """Adds one message to send, in the caller's transaction (it leaves only once committed).

    Give ``text`` (HTML, optional ``reply_markup`` as a dict) for a ``sendMessage``, or
    ``method`` and its ``payload`` (every parameter but ``chat_id``). A second enqueue with
    the same ``dedupe_key`` adds nothing and returns False, unless ``replace``: then the row
    takes the new payload and is sent again (a status message edited in place), unless it
    is being sent at this very moment."""
    if text is not None:
        body = message_payload(text, reply_markup=reply_markup, **dict(payload or {}))
    else:
        body = dict(payload or {})
    values = {
        "kind": kind,
        "chat_id": chat_id,
        "method": method,
        "payload": json.dumps(body, ensure_ascii=False),
        "campaign": campaign,
        "ref": ref,
        "dedupe_key": dedupe_key,
        "priority": priority,
        "paid": paid,
        "not_before": not_before or utcnow(),
        "state": PENDING,
        "attempts": 0,
        "created_at": utcnow(),
    }
    statement = _insert(session)(O).values(**values)
    if dedupe_key is None:
        await session.execute(statement)
        return True
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=["dedupe_key"],
            set_={
                "payload": statement.excluded.payload,
                "state": PENDING,
                "not_before": statement.excluded.not_before,
                "attempts": 0,
                "last_error": None,
            },
            where=O.state != SENDING,
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(statement)
    return bool(affected(result))


async def enqueue_audience(
    session: AsyncSession,
    users: Select[Any],
    *,
    kind: str,
    campaign: str,
    payload: Mapping[str, Any],
    method: str = "sendMessage",
    priority: int = BULK,
    paid: bool = False,
) -> int:
    """One row per person of ``users`` (a ``select`` whose FROM has :class:`User`), in one
    ``INSERT … SELECT``: the audience is never loaded in Python. Each row's dedupe key is
    ``<campaign>:<users.id>``, so building the queue twice adds nobody twice."""
    now = utcnow()
    body = json.dumps(dict(payload), ensure_ascii=False)
    rows = users.with_only_columns(
        literal(kind),
        User.telegram_id,
        literal(method),
        literal(body),
        literal(campaign),
        func.cast(User.id, O.ref.type),
        literal(campaign + ":") + func.cast(User.id, O.ref.type),
        literal(priority),
        literal(paid),
        literal(now, O.not_before.type),
        literal(PENDING),
        literal(0),
        literal(now, O.created_at.type),
    )
    columns = [
        "kind",
        "chat_id",
        "method",
        "payload",
        "campaign",
        "ref",
        "dedupe_key",
        "priority",
        "paid",
        "not_before",
        "state",
        "attempts",
        "created_at",
    ]
    statement = _insert(session)(O).from_select(columns, rows).on_conflict_do_nothing()
    result = await session.execute(statement)
    return affected(result)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed row: one Bot API call to make."""

    id: int
    kind: str
    chat_id: int
    method: str
    payload: dict[str, Any]
    campaign: str | None
    ref: str | None
    paid: bool
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Settled:
    """What became of one claimed row (``state`` pending: tried again at ``not_before``)."""

    id: int
    kind: str
    chat_id: int
    ref: str | None
    campaign: str | None
    state: str
    error: str | None = None
    message_id: int | None = None
    at: dt.datetime | None = None
    not_before: dt.datetime | None = None
    #: the row goes back without counting an attempt (released at a stop)
    released: bool = False


#: called inside the settling transaction with the rows of one kind (e.g. reminders mark
#: their own rows sent)
Settler = Callable[[AsyncSession, Sequence[Settled]], Awaitable[None]]


class OutboxStore:
    """The queue's statements. Telegram-free; every method owns its transaction."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._settlers: dict[str, list[Settler]] = {}
        self._wakers: list[Callable[[], None]] = []

    def on_enqueued(self, waker: Callable[[], None]) -> None:
        """``waker`` is called by :meth:`wake` (the engine of this process)."""
        self._wakers.append(waker)

    def wake(self) -> None:
        """After committing new rows: the engine looks now rather than at its next poll."""
        for waker in self._wakers:
            waker()

    @property
    def sessions(self) -> SessionFactory:
        return self._sessions

    async def notify(
        self,
        kind: str,
        chat_id: int,
        text: str,
        *,
        reply_markup: Mapping[str, Any] | None = None,
        priority: int = NOTICE,
        **options: Any,
    ) -> bool:
        """One message to one person, in a transaction of its own, then the engine woken:
        what a handler calls instead of ``bot.send_message`` for anything but the direct
        answer to the update (options: those of :func:`enqueue`)."""
        async with self._sessions.begin() as session:
            added = await enqueue(
                session,
                kind=kind,
                chat_id=chat_id,
                text=text,
                reply_markup=reply_markup,
                priority=priority,
                **options,
            )
        self.wake()
        return added

    async def notify_many(
        self,
        kind: str,
        messages: Iterable[tuple[int, str, Mapping[str, Any] | None]],
        *,
        priority: int = NOTICE,
        campaign: str | None = None,
    ) -> int:
        """Many ``(chat_id, text, reply_markup)`` in one transaction; how many were queued."""
        queued = 0
        async with self._sessions.begin() as session:
            for chat_id, text, markup in messages:
                queued += await enqueue(
                    session,
                    kind=kind,
                    chat_id=chat_id,
                    text=text,
                    reply_markup=markup,
                    priority=priority,
                    campaign=campaign,
                )
        self.wake()
        return queued

    def on_settled(self, kind: str, settler: Settler) -> None:
        """``settler`` runs in the transaction that records results of rows of ``kind``."""
        self._settlers.setdefault(kind, []).append(settler)

    async def _postgres(self, session: AsyncSession) -> bool:
        bind = session.bind
        return bind is not None and bind.dialect.name == "postgresql"

    # -- the lease: one instance drains at a time ----------------------------------------

    async def lease(
        self, holder: str, ttl: dt.timedelta, *, take_expired: bool, name: str = DRAIN_LEASE
    ) -> bool:
        """Renews ``holder``'s lease, or takes a free one (or an expired one when
        ``take_expired``); True when ``holder`` holds it for ``ttl`` from now."""
        now = utcnow()
        free: ColumnElement[bool] = OutboxLease.holder.is_(None)
        if take_expired:
            free = or_(free, OutboxLease.expires_at < now)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxLease)
                .where(OutboxLease.name == name, or_(OutboxLease.holder == holder, free))
                .values(holder=holder, expires_at=now + ttl)
            )
            if affected(result):
                return True
            statement = (
                _insert(session)(OutboxLease)
                .values(name=name, holder=holder, expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            inserted = await session.execute(statement)
            return bool(affected(inserted))

    async def lease_holder(self, name: str = DRAIN_LEASE) -> tuple[str | None, dt.datetime | None]:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(OutboxLease.holder, OutboxLease.expires_at).where(
                        OutboxLease.name == name
                    )
                )
            ).first()
        return (row[0], row[1]) if row else (None, None)

    async def release_lease(self, holder: str, name: str = DRAIN_LEASE) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxLease)
                .where(OutboxLease.name == name, OutboxLease.holder == holder)
                .values(holder=None, expires_at=None)
            )

    # -- claims -------------------------------------------------------------------------

    async def requeue_orphans(self, holder: str) -> int:
        """Rows left ``sending`` by another instance (it died, or lost the lease): pending
        again. The message may have left: at most one duplicate per send in flight."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(O)
                .where(O.state == SENDING, or_(O.claimed_by.is_(None), O.claimed_by != holder))
                .values(state=PENDING, claimed_by=None, claimed_until=None)
            )
            return affected(result)

    async def claim(
        self,
        holder: str,
        limit: int,
        *,
        paid: bool = False,
        ttl: dt.timedelta = dt.timedelta(seconds=60),
        lease: str | None = DRAIN_LEASE,
    ) -> list[Outgoing]:
        """Up to ``limit`` ready rows of one lane, most urgent first, now ``sending``.

        PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` (two claimers never wait on each
        other nor take the same row). SQLite: the UPDATE takes the database's write lock
        first, which serialises claimers. With ``lease``, nothing is claimed unless
        ``holder`` holds that lease (a holder that lost it stops at once)."""
        if limit <= 0:
            return []
        now = utcnow()
        async with self._sessions.begin() as session:
            ready = (
                select(O.id)
                .where(O.state == PENDING, O.paid.is_(paid), O.not_before <= now)
                .order_by(O.priority, O.id)
                .limit(limit)
            )
            if await self._postgres(session):
                ready = ready.with_for_update(skip_locked=True)
            statement = update(O).where(O.id.in_(ready.scalar_subquery()))
            if lease is not None:
                statement = statement.where(
                    exists().where(
                        OutboxLease.name == lease,
                        OutboxLease.holder == holder,
                        OutboxLease.expires_at > now,
                    )
                )
            rows = (
                await session.execute(
                    statement.values(
                        state=SENDING,
                        claimed_by=holder,
                        claimed_until=now + ttl,
                        attempts=O.attempts + 1,
                    )
                    .returning(
                        O.id,
                        O.kind,
                        O.chat_id,
                        O.method,
                        O.payload,
                        O.campaign,
                        O.ref,
                        O.paid,
                        O.attempts,
                        O.created_at,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
        claimed = [
            Outgoing(
                id=r[0],
                kind=r[1],
                chat_id=r[2],
                method=r[3],
                payload=json.loads(r[4]),
                campaign=r[5],
                ref=r[6],
                paid=r[7],
                attempts=r[8],
                created_at=r[9],
            )
            for r in rows
        ]
        claimed.sort(key=lambda row: row.id)
        return claimed

    async def unreachable_among(self, chat_ids: Iterable[int]) -> set[int]:
        """The chats of people known to have blocked Plume (their rows are not sent)."""
        ids = sorted(set(chat_ids))
        if not ids:
            return set()
        async with self._sessions() as session:
            rows = await session.scalars(
                select(User.telegram_id).where(
                    User.telegram_id.in_(ids), User.reachable.is_(False)
                )
            )
            return set(rows)

    async def cancelled_among(self, campaigns: Iterable[str]) -> set[str]:
        """The campaigns among ``campaigns`` that were cancelled (a row of theirs is)."""
        names = sorted(set(campaigns))
        if not names:
            return set()
        async with self._sessions() as session:
            rows = await session.scalars(
                select(O.campaign).where(O.campaign.in_(names), O.state == CANCELLED).distinct()
            )
            return {name for name in rows if name}

    async def record(self, results: Sequence[Settled]) -> None:
        """Writes what became of claimed rows, in one transaction: the rows, the people found
        unreachable (``users.reachable`` cleared once, here), and each kind's settlers."""
        if not results:
            return
        async with self._sessions.begin() as session:
            await session.execute(update(O), [_row_values(r) for r in results])
            released = [r.id for r in results if r.released]
            if released:  # claimed but never sent: the claim was not an attempt
                await session.execute(
                    update(O)
                    .where(O.id.in_(released), O.attempts > 0)
                    .values(attempts=O.attempts - 1)
                    .execution_options(synchronize_session=False)
                )
            gone = {r.chat_id for r in results if r.state == UNREACHABLE}
            if gone:
                await session.execute(unreachable(gone))
            by_kind: dict[str, list[Settled]] = {}
            for result in results:
                if result.state != PENDING:
                    by_kind.setdefault(result.kind, []).append(result)
            for kind, rows in by_kind.items():
                for settler in self._settlers.get(kind, ()):
                    await settler(session, rows)

    # -- campaigns ------------------------------------------------------------------------

    async def counts(self, campaign: str) -> dict[str, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(O.state, func.count()).where(O.campaign == campaign).group_by(O.state)
            )
            return {state: int(n) for state, n in rows}

    async def span(self, campaign: str) -> float:
        """Seconds from the campaign's first row to its last send (0 before any send)."""
        async with self._sessions() as session:
            first, last = (
                await session.execute(
                    select(func.min(O.created_at), func.max(O.sent_at)).where(
                        O.campaign == campaign
                    )
                )
            ).one()
        if first is None or last is None:
            return 0.0
        if first.tzinfo is None:
            first = first.replace(tzinfo=dt.UTC)
        if last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        return max(0.0, (last - first).total_seconds())

    async def sent_message(self, dedupe_key: str) -> int | None:
        """The message id Telegram gave the row of ``dedupe_key`` (None until sent)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(O.message_id).where(O.dedupe_key == dedupe_key, O.state == SENT)
            )

    async def errors(self, campaign: str, limit: int = 5) -> list[tuple[str, int]]:
        """The commonest reasons of the campaign's failed rows."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(O.last_error, func.count())
                .where(O.campaign == campaign, O.state == FAILED)
                .group_by(O.last_error)
                .order_by(func.count().desc())
                .limit(limit)
            )
            return [(str(error or "?"), int(n)) for error, n in rows]

    async def fail_campaign(self, campaign: str, error: str) -> int:
        """Every row of the campaign still waiting fails with ``error`` (a message Telegram
        refuses for everybody: no use trying the other recipients)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(O)
                .where(O.campaign == campaign, O.state == PENDING)
                .values(state=FAILED, last_error=error[:300])
            )
            return affected(result)

    async def cancel_campaign(self, campaign: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(O).where(O.campaign == campaign, O.state == PENDING).values(state=CANCELLED)
            )
            return affected(result)

    async def retry_failed(self, campaign: str) -> int:
        """The campaign's failed rows are sent again (staff pressed "Resend to the failed")."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(O)
                .where(O.campaign == campaign, O.state == FAILED)
                .values(state=PENDING, attempts=0, not_before=utcnow(), created_at=utcnow())
            )
            return affected(result)

    async def depth(self) -> dict[str, int]:
        """Rows waiting (pending or being sent) per kind (for /metrics and the benchmarks)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(O.kind, func.count())
                .where(O.state.in_((PENDING, SENDING)))
                .group_by(O.kind)
            )
            return {kind: int(n) for kind, n in rows}

    async def rows(self, **where: Any) -> list[OutboxMessage]:
        """Rows matching column values (tests, benchmarks)."""
        async with self._sessions() as session:
            query = select(O).order_by(O.id)
            if where:
                query = query.where(and_(*(getattr(O, k) == v for k, v in where.items())))
            return list(await session.scalars(query))


def _row_values(result: Settled) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": result.id,
        "state": result.state,
        "last_error": (result.error or None) and result.error[:300],
        "claimed_by": None,
        "claimed_until": None,
    }
    if result.state == SENT:
        values["sent_at"] = result.at or utcnow()
        values["message_id"] = result.message_id
    if result.state == PENDING:
        values["not_before"] = result.not_before or utcnow()
    return values
