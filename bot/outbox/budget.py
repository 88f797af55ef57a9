"""One budget across instances: the replies of every instance weigh on the outbox's pace.

Exactly one instance drains the outbox (the lease, see :mod:`bot.outbox`); every instance
answers its own patrons. In a process, replies and the outbox take their slots from one
:class:`~bot.throttle.Throttle`, the replies first (``urgent``). Across instances, on
PostgreSQL, each instance that does not hold the lease tells the others how many counted
sends it made (``NOTIFY plume_sends``, batched every ``every`` seconds), and the holder
books them in its throttle (:meth:`~bot.throttle.Throttle.book`): the broadcast gives up
the slots the other instances' replies took. SQLite: one instance, nothing to share.

Nothing here imports telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.throttle import Throttle
from storage.db import create_engine

log = logging.getLogger(__name__)

CHANNEL: Final = "plume_sends"


class SharedBudget:
    """Two connections of its own (never the pool the handlers need): one listening, one
    publishing."""

    def __init__(
        self,
        engine: AsyncEngine,
        throttle: Throttle,
        instance: str,
        holding: Callable[[], bool],
        *,
        every: float = 0.05,
    ) -> None:
        self._main = engine
        self._engine: AsyncEngine = engine
        self._throttle = throttle
        self._instance = instance
        self._holding = holding
        self._every = every
        self._unsent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.booked = 0  # other instances' sends booked here (tests, benchmarks)
        self.published = 0

    @property
    def shared(self) -> bool:
        return self._main.dialect.name == "postgresql"

    def note(self) -> None:
        """This instance made one counted send (a reply)."""
        if self.shared:
            self._unsent += 1

    async def start(self) -> None:
        if not self.shared or self._tasks:
            return
        self._engine = create_engine(
            self._main.url.render_as_string(hide_password=False), pool_size=2, max_overflow=0
        )
        self._tasks = [
            asyncio.create_task(self._publish(), name="budget-publish"),
            asyncio.create_task(self._listen(), name="budget-listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tasks and self._engine is not self._main:
            await self._engine.dispose()
        self._engine = self._main
        self._tasks = []

    async def _publish(self) -> None:
        connection: AsyncConnection | None = None
        try:
            while True:
                await asyncio.sleep(self._every)
                if not self._unsent:
                    continue
                count, self._unsent = self._unsent, 0
                if self._holding():
                    continue  # the holder's own replies are in its throttle already
                try:
                    if connection is None:
                        connection = await self._engine.connect()
                    await connection.execute(
                        text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": f"{self._instance} {count}"},
                    )
                    await connection.commit()
                    self.published += count
                except Exception:  # the database away: those sends are past anyway
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            await connection.close()
                    connection = None
                    await asyncio.sleep(1.0)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close())

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        instance, _, raw = payload.rpartition(" ")
        if instance == self._instance or not raw.isdigit() or not self._holding():
            return
        count = int(raw)
        self._throttle.book(count)
        self.booked += count

    async def _listen(self) -> None:
        while True:
            connection: AsyncConnection | None = None
            try:
                connection = await self._engine.connect()
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                await driver.add_listener(CHANNEL, self._on_notify)
                while not driver.is_closed():  # noqa: ASYNC110  (asyncpg has no event for it)
                    await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.debug("budget: listening again after %s", error)
            finally:
                if connection is not None:  # never back to the pool with its listener
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.invalidate())
                    with contextlib.suppress(Exception):
                        await asyncio.shield(connection.close())
            await asyncio.sleep(1.0)
