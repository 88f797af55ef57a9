"""Counting the database round trips Plume makes, by the asyncio task that made them.

``StatementLog`` listens to every engine of the process (SQLAlchemy's ``Engine`` and
``Pool`` class events): each statement sent through a cursor; each transaction's BEGIN and
its COMMIT or ROLLBACK (PostgreSQL gets them as statements of their own; an autocommit
connection sends none); the ping of a pool that pings before handing a connection out. Each
is recorded with the name of the task that sent it. The update path runs in the task of the
webhook request (or of PTB's update processor), background work in named tasks of its own
(``outbox-lease``, ``plume-updates-done``...), so a test can tell what one update cost from
what the engines did meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool


@dataclass(frozen=True)
class Statement:
    task: str
    sql: str


#: the task a statement is counted for
_sender: ContextVar[str] = ContextVar("plume_statement_sender")
_SQLALCHEMY_ASYNCIO = str(Path(sqlalchemy.__file__).parent / "ext" / "asyncio")


def _task_name() -> str:
    """The task that sent the statement. SQLAlchemy ends a session or a transaction (COMMIT,
    ROLLBACK) in a task of its own so that a cancellation cannot cut it short; that task
    inherits the context of the one it ends for, which is named in ``_sender``."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return "(no loop)"
    if task is None:
        return "(no task)"
    code = getattr(task.get_coro(), "cr_code", None)
    if code is not None and code.co_filename.startswith(_SQLALCHEMY_ASYNCIO):
        return _sender.get(task.get_name())
    _sender.set(task.get_name())
    return task.get_name()


def _autocommit(connection: Connection) -> bool:
    # SQLAlchemy's own test of the connection's isolation level (no round trip)
    return bool(connection._is_autocommit_isolation())


@dataclass
class StatementLog:
    entries: list[Statement] = field(default_factory=list)

    def __enter__(self) -> StatementLog:
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "commit", self._commit)
        event.listen(Engine, "rollback", self._rollback)
        event.listen(Pool, "checkout", self._checkout)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "begin", self._begin)
        event.remove(Engine, "commit", self._commit)
        event.remove(Engine, "rollback", self._rollback)
        event.remove(Pool, "checkout", self._checkout)

    def _record(self, sql: str) -> None:
        self.entries.append(Statement(_task_name(), " ".join(sql.split())))

    def _statement(self, connection: Connection, cursor: Any, sql: str, *args: Any) -> None:
        self._record(sql)

    def _begin(self, connection: Connection) -> None:
        if not _autocommit(connection):
            self._record("BEGIN")

    def _commit(self, connection: Connection) -> None:
        if not _autocommit(connection):
            self._record("COMMIT")

    def _rollback(self, connection: Connection) -> None:
        if not _autocommit(connection):
            self._record("ROLLBACK")

    def _checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # a pool with pre_ping pings the server before handing a connection out (SQLAlchemy
        # sends it straight to the driver: no statement event; a fresh connection is spared)
        if getattr(proxy, "_pool", None) is not None and proxy._pool._pre_ping:
            self._record("(pre-ping)")

    def clear(self) -> None:
        self.entries.clear()

    def of_tasks(self, tasks: set[str]) -> list[Statement]:
        return [entry for entry in self.entries if entry.task in tasks]

    def tasks_that_ran(self, fragment: str) -> set[str]:
        """The tasks that sent a statement containing ``fragment``."""
        return {entry.task for entry in self.entries if fragment in entry.sql}

    def summary(self, entries: list[Statement] | None = None) -> str:
        counts = Counter(
            (e.task, e.sql[:110]) for e in (self.entries if entries is None else entries)
        )
        return "\n".join(f"{n:>4}  {task:<22} {sql}" for (task, sql), n in counts.most_common())
