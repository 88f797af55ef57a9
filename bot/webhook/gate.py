"""The gate every update passes before any handler runs.

1. **Once**: the update_id is inserted into ``handled_updates`` (insert-or-ignore, the
   dialect's way; on PostgreSQL one autocommit statement). Only the instance whose insert
   went in handles it; a second delivery — Telegram retrying, the load balancer handing the
   retry to another instance — finds the row: ``done_at`` set means handled (answer 200),
   empty means another instance is on it (answer 503 so that Telegram asks again later).
   A claim older than ``lease`` whose holder never finished (it was killed) is taken over
   by one conditional UPDATE.
2. **One chat at a time**: handlers of one chat run one after the other, in this process
   (an asyncio lock per chat) and across instances on PostgreSQL (a session advisory lock
   per chat, on an autocommit connection of a pool of its own, so that a waiting lock never
   holds a connection the handlers need; a killed instance's locks go with its connections).
   SQLite serves one instance: the in-process lock is enough there.

On PostgreSQL the chat's lock and the claim are one statement (the lock first, then the
insert), and the lock's release, with the update's "done" mark, is the other: two round
trips an update (SQLite, and updates without a chat, mark theirs in batches). Taking the lock
first means a repeated delivery of an update whose chat is busy waits for that chat before
it is told BUSY or DUPLICATE; the claim's time is the database's clock once the lock is
held, so a long wait for the chat does not age the claim. The lock pool holds one connection
per update handled at once, so that none is opened and closed per update, and pings none
before use: a connection found dead (the database restarted) is replaced and the statement
sent again once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.webhook.metrics import Metrics
from storage.db import SessionFactory, create_engine, is_postgres
from storage.models import utcnow
from storage.webhook import HandledUpdate

log = logging.getLogger(__name__)

#: first key of Plume's per-chat advisory locks (pg_advisory_lock(int, int)), "PLCH"
CHAT_LOCK_NAMESPACE = 0x504C4348
#: handled_updates rows are kept this long (Telegram gives up on an update after 24 h)
KEEP_HANDLED = dt.timedelta(days=2)
PRUNE_EVERY = 600.0


class Admission(enum.Enum):
    HANDLED = "handled"  # this instance ran the handlers
    DUPLICATE = "duplicate"  # handled before: nothing to do
    BUSY = "busy"  # another instance is handling it right now: ask again later
    FAILED = "failed"  # the gate itself failed (database down): ask again later


def chat_lock_key(chat_id: int) -> int:
    """The second key of a chat's advisory lock: 32 bits, collisions only share a lock."""
    return zlib.crc32(str(chat_id).encode()) - 2**31


@dataclass
class _Claim:
    admission: Admission
    handled: bool = False  # the handlers ran to the end
    marked: bool = False  # its "done" mark is written (PostgreSQL: with the lock's release)


@dataclass
class _LocalLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class UpdateGate:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: SessionFactory,
        *,
        instance: str,
        metrics: Metrics,
        concurrency: int,
        lease: float = 15.0,
        done_every: float = 0.1,
    ) -> None:
        self._sessions = sessions
        self._instance = instance[:64]
        self._metrics = metrics
        self._lease = dt.timedelta(seconds=lease)
        self._locks: dict[int, _LocalLock] = {}
        self._lock_engine: AsyncEngine | None = None
        if is_postgres(engine):
            # autocommit connections: the claim is one statement, the lock outlives no
            # transaction, and nothing needs resetting when a connection goes back
            url = engine.url.render_as_string(hide_password=False)
            self._lock_engine = create_engine(
                url,
                pool_size=concurrency,
                max_overflow=4,
                pool_reset_on_return=None,
                isolation_level="AUTOCOMMIT",
            )
        self._last_prune = time.monotonic()
        # "done" marks not written with the lock's release are written in batches, every
        # ``done_every`` seconds: a delivery repeated meanwhile finds the claim fresh and is
        # asked to come back (503)
        self._done: list[int] = []
        self._unconfirmed: set[int] = set()  # handled here, mark not committed yet
        self._done_every = done_every
        self._flusher: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(Exception):
            await self._flush_done()
        if self._lock_engine is not None:
            await self._lock_engine.dispose()

    async def handle(
        self, update_id: int, chat_id: int | None, run: Callable[[], Awaitable[None]]
    ) -> Admission:
        """Runs ``run`` (the handlers) unless this update was taken already."""
        began = time.monotonic()
        try:
            async with (
                self._one_chat_in_process(chat_id),
                self._claimed(update_id, chat_id) as claim,
            ):
                if claim.admission is not Admission.HANDLED:
                    self._metrics.updates.labels(claim.admission.value).inc()
                    return claim.admission
                try:
                    await run()
                except BaseException:
                    # not handled after all: a later delivery may try again at once
                    with contextlib.suppress(Exception):
                        await self._release(update_id)
                    self._metrics.updates.labels("failed").inc()
                    raise
                claim.handled = True
        except (OSError, TimeoutError, SQLAlchemyError) as error:  # the database away
            log.error("update %s: database unreachable (%s)", update_id, error)
            self._metrics.updates.labels("failed").inc()
            return Admission.FAILED
        if not claim.marked:
            self._mark_done(update_id)
        self._metrics.updates.labels("handled").inc()
        self._metrics.answer_seconds.observe(time.monotonic() - began)
        return Admission.HANDLED

    # -- once -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _claimed(self, update_id: int, chat_id: int | None) -> AsyncIterator[_Claim]:
        """The update claimed (or not), and when it is, on PostgreSQL, its chat locked across
        instances until the block ends; the lock's release marks it done once handled."""
        if self._lock_engine is None:
            yield _Claim(await self._claim_in_session(update_id))
            return
        for attempt in (1, 2):
            async with self._lock_engine.connect() as connection:
                try:
                    admission = await self._claim_and_lock(update_id, chat_id, connection)
                except DBAPIError as error:
                    if error.connection_invalidated and attempt == 1:
                        continue  # a connection the database closed: once more, on a new one
                    log.exception("update %s: cannot record it in the database", update_id)
                    await _drop(connection)  # with the chat's lock, if it was taken
                    admission = Admission.FAILED
                except Exception:
                    log.exception("update %s: cannot record it in the database", update_id)
                    await _drop(connection)
                    admission = Admission.FAILED
                except BaseException:  # cancelled, maybe while waiting for the chat's lock
                    await asyncio.shield(_drop(connection))
                    raise
                claim = _Claim(admission)
                if admission is not Admission.HANDLED or chat_id is None:
                    yield claim
                    return
                try:
                    yield claim
                finally:
                    done = update_id if claim.handled else None
                    claim.marked = await self._unlock(chat_id, connection, done)
                return

    def _take_over(self, update_id: int) -> Any:
        """A claim older than the lease whose holder never finished becomes this instance's."""
        now = utcnow()
        return (
            update(HandledUpdate)
            .where(
                HandledUpdate.update_id == update_id,
                HandledUpdate.done_at.is_(None),
                HandledUpdate.claimed_at < now - self._lease,
            )
            .values(instance=self._instance, claimed_at=now)
            .returning(HandledUpdate.update_id)
        )

    async def _claim_in_session(self, update_id: int) -> Admission:
        """SQLite: one instance, the in-process lock is the chat's lock."""
        claim = (
            sqlite.insert(HandledUpdate)
            .values(update_id=update_id, instance=self._instance, claimed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(HandledUpdate.update_id)
        )
        try:
            async with self._sessions.begin() as session:
                if (await session.execute(claim)).first() is not None:
                    return Admission.HANDLED
                if (await session.execute(self._take_over(update_id))).first() is not None:
                    log.info("update %s: taking over a claim nobody finished", update_id)
                    return Admission.HANDLED
                done_at = await session.scalar(_done_at(update_id))
        except Exception:
            log.exception("update %s: cannot record it in the database", update_id)
            return Admission.FAILED
        return self._not_ours(update_id, done_at)

    async def _claim_and_lock(
        self, update_id: int, chat_id: int | None, connection: AsyncConnection
    ) -> Admission:
        """PostgreSQL, autocommit: the usual case is one statement, the chat's lock then the
        claim. When the update was claimed before, the lock is given back here."""
        values = {"update_id": update_id, "instance": self._instance}
        if chat_id is None:
            claimed = await connection.execute(_CLAIM, values)
        else:
            claimed = await connection.execute(_LOCK_AND_CLAIM, {**values, **_lock_keys(chat_id)})
        if claimed.first() is not None:
            return Admission.HANDLED
        try:
            if (await connection.execute(self._take_over(update_id))).first() is not None:
                log.info("update %s: taking over a claim nobody finished", update_id)
                return Admission.HANDLED
            done_at = await connection.scalar(_done_at(update_id))
        except BaseException:
            if chat_id is not None:
                await self._unlock(chat_id, connection)
            raise
        if chat_id is not None:
            await self._unlock(chat_id, connection)
        return self._not_ours(update_id, done_at)

    def _not_ours(self, update_id: int, done_at: dt.datetime | None) -> Admission:
        if done_at is None and update_id in self._unconfirmed:
            return Admission.DUPLICATE  # handled here, its mark not written yet
        return Admission.DUPLICATE if done_at is not None else Admission.BUSY

    def _mark_done(self, update_id: int) -> None:
        self._done.append(update_id)
        self._unconfirmed.add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="plume-updates-done")

    async def flush(self) -> None:
        """Writes the "done" marks now, the batch being written included (tests, shutdown)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self._flush_done()

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._done_every)
        try:
            await self._flush_done()
            await self._maybe_prune()
        except Exception as error:  # the next batch tries again with these
            log.warning("cannot mark updates done: %s", error)

    async def _flush_done(self) -> None:
        batch, self._done = self._done, []
        if not batch:
            return
        try:
            async with self._sessions.begin() as session:
                await session.execute(
                    update(HandledUpdate)
                    .where(HandledUpdate.update_id.in_(batch))
                    .values(done_at=utcnow())
                )
        except BaseException:
            self._done[:0] = batch
            raise
        self._unconfirmed.difference_update(batch)

    async def _release(self, update_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                delete(HandledUpdate).where(
                    HandledUpdate.update_id == update_id,
                    HandledUpdate.instance == self._instance,
                    HandledUpdate.done_at.is_(None),
                )
            )

    async def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = time.monotonic()
        async with self._sessions.begin() as session:
            await session.execute(
                delete(HandledUpdate).where(HandledUpdate.claimed_at < utcnow() - KEEP_HANDLED)
            )

    # -- one chat at a time -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _one_chat_in_process(self, chat_id: int | None) -> AsyncIterator[None]:
        if chat_id is None:
            yield
            return
        local = self._locks.get(chat_id)
        if local is None:
            local = self._locks[chat_id] = _LocalLock()
        local.users += 1
        try:
            async with local.lock:
                yield
        finally:
            local.users -= 1
            if local.users == 0:
                self._locks.pop(chat_id, None)

    async def _unlock(
        self, chat_id: int, connection: AsyncConnection, done: int | None = None
    ) -> bool:
        """The chat's lock given back, and update ``done`` marked handled in the same
        statement (before the lock goes: the next delivery of it finds it done). If that
        fails the lock must not outlive us, so the connection (and with it the lock) is
        dropped; False then, and the mark is left to the batch."""
        keys = _lock_keys(chat_id)
        try:
            if done is None:
                await asyncio.shield(connection.execute(_UNLOCK, keys))
                return False
            await asyncio.shield(connection.execute(_MARK_DONE_AND_UNLOCK, {**keys, "done": done}))
        except Exception:
            await _drop(connection)
            return False
        return True


async def _drop(connection: AsyncConnection) -> None:
    """A lock connection in doubt is closed, not given back: a session lock taken by a
    statement that then failed stays held (it ignores the transaction), until its session
    ends."""
    with contextlib.suppress(Exception):
        await connection.invalidate()


def _done_at(update_id: int) -> Any:
    return select(HandledUpdate.done_at).where(HandledUpdate.update_id == update_id)


def _lock_keys(chat_id: int) -> dict[str, int]:
    return {"namespace": CHAT_LOCK_NAMESPACE, "key": chat_lock_key(chat_id)}


# PostgreSQL's statements of the gate (autocommit). The claim's time is the database's clock
# when the row is made: after the lock was obtained, however long that took.
_CLAIM = text(
    "INSERT INTO handled_updates (update_id, instance, claimed_at) "
    "VALUES (:update_id, :instance, clock_timestamp()) "
    "ON CONFLICT (update_id) DO NOTHING RETURNING update_id"
)
_LOCK_AND_CLAIM = text(
    "WITH chat AS (SELECT pg_advisory_lock(:namespace, :key)) "
    "INSERT INTO handled_updates (update_id, instance, claimed_at) "
    "SELECT :update_id, :instance, clock_timestamp() FROM chat "
    "ON CONFLICT (update_id) DO NOTHING RETURNING update_id"
)
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, :key)")
# a data-modifying WITH runs to completion whether or not the query reads it
_MARK_DONE_AND_UNLOCK = text(
    "WITH done AS (UPDATE handled_updates SET done_at = clock_timestamp() "
    "WHERE update_id = :done) SELECT pg_advisory_unlock(:namespace, :key)"
)
