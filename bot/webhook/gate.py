"""The gate every update passes before any handler runs.

1. **Once**: the update_id is inserted into ``handled_updates`` (insert-or-ignore, the
   dialect's way). Only the instance whose insert went in handles it; a second delivery —
   Telegram retrying, the load balancer handing the retry to another instance — finds the
   row: ``done_at`` set means handled (answer 200), empty means another instance is on it
   (answer 503 so that Telegram asks again later). A claim older than ``lease`` whose
   holder never finished (it was killed) is taken over by one conditional UPDATE.
2. **One chat at a time**: handlers of one chat run one after the other, in this process
   (an asyncio lock per chat) and across instances on PostgreSQL (a session advisory lock
   per chat, on connections of a small pool of their own so that a waiting lock never holds
   a connection the handlers need; a killed instance's locks go with its connections).
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
from sqlalchemy.ext.asyncio import AsyncEngine

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
    ) -> None:
        self._sessions = sessions
        self._dialect = engine.dialect.name
        self._instance = instance[:64]
        self._metrics = metrics
        self._lease = dt.timedelta(seconds=lease)
        self._locks: dict[int, _LocalLock] = {}
        self._lock_engine: AsyncEngine | None = None
        if is_postgres(engine):
            url = engine.url.render_as_string(hide_password=False)
            self._lock_engine = create_engine(
                url, pool_size=4, max_overflow=concurrency, pool_pre_ping=True
            )
        self._last_prune = time.monotonic()

    async def close(self) -> None:
        if self._lock_engine is not None:
            await self._lock_engine.dispose()

    async def handle(
        self, update_id: int, chat_id: int | None, run: Callable[[], Awaitable[None]]
    ) -> Admission:
        """Runs ``run`` (the handlers) unless this update was taken already."""
        began = time.monotonic()
        try:
            admission = await self._claim(update_id)
        except Exception:
            log.exception("update %s: cannot record it in the database", update_id)
            self._metrics.updates.labels("failed").inc()
            return Admission.FAILED
        if admission is not Admission.HANDLED:
            self._metrics.updates.labels(admission.value).inc()
            return admission
        try:
            async with self.one_chat_at_a_time(chat_id):
                await run()
        except BaseException:
            # not handled after all: a later delivery may try again at once
            with contextlib.suppress(Exception):
                await self._release(update_id)
            self._metrics.updates.labels("failed").inc()
            raise
        try:
            await self._done(update_id)
        except Exception:  # handled; a retry would find the claim and wait out the lease
            log.exception("update %s: handled, but not marked done", update_id)
        self._metrics.updates.labels("handled").inc()
        self._metrics.answer_seconds.observe(time.monotonic() - began)
        await self._maybe_prune()
        return Admission.HANDLED

    # -- once -------------------------------------------------------------------------------

    async def _claim(self, update_id: int) -> Admission:
        now = utcnow()
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = (
            insert(HandledUpdate)
            .values(update_id=update_id, instance=self._instance, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(HandledUpdate.update_id)
        )
        async with self._sessions.begin() as session:
            if (await session.execute(statement)).first() is not None:
                return Admission.HANDLED
            taken_over = await session.execute(
                update(HandledUpdate)
                .where(
                    HandledUpdate.update_id == update_id,
                    HandledUpdate.done_at.is_(None),
                    HandledUpdate.claimed_at < now - self._lease,
                )
                .values(instance=self._instance, claimed_at=now)
                .returning(HandledUpdate.update_id)
            )
            if taken_over.first() is not None:
                log.info("update %s: taking over a claim nobody finished", update_id)
                return Admission.HANDLED
            done_at = await session.scalar(
                select(HandledUpdate.done_at).where(HandledUpdate.update_id == update_id)
            )
        return Admission.DUPLICATE if done_at is not None else Admission.BUSY

    async def _done(self, update_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(HandledUpdate)
                .where(HandledUpdate.update_id == update_id)
                .values(done_at=utcnow())
            )

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
    async def one_chat_at_a_time(self, chat_id: int | None) -> AsyncIterator[None]:
        if chat_id is None:
            yield
            return
        local = self._locks.get(chat_id)
        if local is None:
            local = self._locks[chat_id] = _LocalLock()
        local.users += 1
        try:
            async with local.lock:
                if self._lock_engine is None:
                    yield
                else:
                    async with self._advisory_lock(chat_id):
                        yield
        finally:
            local.users -= 1
            if local.users == 0:
                self._locks.pop(chat_id, None)

    @contextlib.asynccontextmanager
    async def _advisory_lock(self, chat_id: int) -> AsyncIterator[None]:
        assert self._lock_engine is not None
        keys = {"namespace": CHAT_LOCK_NAMESPACE, "key": chat_lock_key(chat_id)}
        async with self._lock_engine.connect() as raw:
            connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("SELECT pg_advisory_lock(:namespace, :key)"), keys)
            try:
                yield
            finally:
                try:
                    await asyncio.shield(
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:namespace, :key)"), keys
                        )
                    )
                except Exception:  # the lock must not outlive us: drop the connection
                    await raw.invalidate()
