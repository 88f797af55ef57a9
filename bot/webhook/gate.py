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
   per chat, on an autocommit connection of a small pool of its own — the one the claim
   used — so that a waiting lock never holds a connection the handlers need; a killed
   instance's locks go with its connections).
   SQLite serves one instance: the in-process lock is enough there.
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

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
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
        self._dialect = engine.dialect.name
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
                pool_size=4,
                max_overflow=concurrency,
                pool_pre_ping=True,
                pool_reset_on_return=None,
                isolation_level="AUTOCOMMIT",
            )
        self._last_prune = time.monotonic()
        # "done" marks are written in batches, every ``done_every`` seconds: a delivery
        # repeated meanwhile finds the claim fresh and is asked to come back (503)
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
            async with self._one_chat_in_process(chat_id), self._connection() as connection:
                try:
                    admission = await self._claim(update_id, connection)
                except Exception:
                    log.exception("update %s: cannot record it in the database", update_id)
                    admission = Admission.FAILED
                if admission is not Admission.HANDLED:
                    self._metrics.updates.labels(admission.value).inc()
                    return admission
                try:
                    async with self._advisory_lock(chat_id, connection):
                        await run()
                except BaseException:
                    # not handled after all: a later delivery may try again at once
                    with contextlib.suppress(Exception):
                        await self._release(update_id)
                    self._metrics.updates.labels("failed").inc()
                    raise
        except (OSError, TimeoutError, SQLAlchemyError) as error:  # the database away
            log.error("update %s: database unreachable (%s)", update_id, error)
            self._metrics.updates.labels("failed").inc()
            return Admission.FAILED
        self._mark_done(update_id)
        self._metrics.updates.labels("handled").inc()
        self._metrics.answer_seconds.observe(time.monotonic() - began)
        return Admission.HANDLED

    # -- once -------------------------------------------------------------------------------

    async def _claim(self, update_id: int, connection: AsyncConnection | None) -> Admission:
        now = utcnow()
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        claim = (
            insert(HandledUpdate)
            .values(update_id=update_id, instance=self._instance, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(HandledUpdate.update_id)
        )
        take_over = (
            update(HandledUpdate)
            .where(
                HandledUpdate.update_id == update_id,
                HandledUpdate.done_at.is_(None),
                HandledUpdate.claimed_at < now - self._lease,
            )
            .values(instance=self._instance, claimed_at=now)
            .returning(HandledUpdate.update_id)
        )
        done = select(HandledUpdate.done_at).where(HandledUpdate.update_id == update_id)
        if connection is not None:  # PostgreSQL, autocommit: the usual case is one statement
            if (await connection.execute(claim)).first() is not None:
                return Admission.HANDLED
            if (await connection.execute(take_over)).first() is not None:
                log.info("update %s: taking over a claim nobody finished", update_id)
                return Admission.HANDLED
            done_at = await connection.scalar(done)
        else:
            async with self._sessions.begin() as session:
                if (await session.execute(claim)).first() is not None:
                    return Admission.HANDLED
                if (await session.execute(take_over)).first() is not None:
                    log.info("update %s: taking over a claim nobody finished", update_id)
                    return Admission.HANDLED
                done_at = await session.scalar(done)
        if done_at is None and update_id in self._unconfirmed:
            return Admission.DUPLICATE  # handled here, its mark not written yet
        return Admission.DUPLICATE if done_at is not None else Admission.BUSY

    def _mark_done(self, update_id: int) -> None:
        self._done.append(update_id)
        self._unconfirmed.add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="plume-updates-done")

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

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection | None]:
        """PostgreSQL: an autocommit connection of the lock pool (claim, then lock)."""
        if self._lock_engine is None:
            yield None
            return
        async with self._lock_engine.connect() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def _advisory_lock(
        self, chat_id: int | None, connection: AsyncConnection | None
    ) -> AsyncIterator[None]:
        """Across instances (PostgreSQL): a session advisory lock per chat; a killed
        instance's locks go with its connections."""
        if connection is None or chat_id is None:
            yield
            return
        keys = {"namespace": CHAT_LOCK_NAMESPACE, "key": chat_lock_key(chat_id)}
        await connection.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), keys)
        try:
            yield
        finally:
            try:
                await asyncio.shield(
                    connection.execute(text("SELECT pg_advisory_unlock(:namespace, :key)"), keys)
                )
            except Exception:  # the lock must not outlive us: drop the connection
                await connection.invalidate()
