"""Engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, event, exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]
#: seconds a PostgreSQL connection attempt may take (asyncpg's own default is 60)
CONNECT_TIMEOUT = 10
#: how much of a SQLite database file is read through a memory map
SQLITE_MMAP_BYTES = 1 << 30


class DatabaseUnreachable(Exception):
    """The database cannot be reached at all (refused, unknown host, wrong password...)."""


#: what connecting raises when the server is not there (each driver has its own)
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    exc.OperationalError,
    exc.InterfaceError,
)
try:
    import asyncpg

    _CONNECT_ERRORS += (asyncpg.PostgresError, asyncpg.InterfaceError)
except ImportError:  # pragma: no cover - asyncpg is a dependency
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # pages read through a memory map, not a read() each: the report's scans of a million
    # events spent as much time in the kernel as in SQLite (address space, not memory)
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


#: PostgreSQL connections kept open by an engine: one for each update the bot handles at once
#: (``bot.app.CONCURRENT_UPDATES``), so that a busy minute opens none. A connection beyond
#: the pool is closed when it is given back, and the next one opened costs a backend process
#: and the preparation of every statement again: with 10 kept, 200 patrons asking at once
#: made an instance open 56 connections while it answered 510 questions (27 with 16 kept).
#: The ceiling (pool and overflow) is the 20 it was, so that several instances still fit in
#: PostgreSQL's 100 connections.
POOL_SIZE = 16
POOL_OVERFLOW = 4


def create_engine(url: str, **kwargs: object) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:":
            # a folder that cannot be made is reported when connecting, naming DATABASE_URL
            with contextlib.suppress(OSError):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        if sa_url.get_driver_name() == "asyncpg":
            kwargs.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT})
        engine = create_async_engine(url, **kwargs)
    # on both backends (SQLite would keep it), so that the stored text is the same
    event.listen(engine.sync_engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


def _has_nul(row: Any) -> bool:
    values = row.values() if isinstance(row, dict) else row
    return any(type(value) is str and "\x00" in value for value in values)


def _scrub(row: Any) -> Any:
    def clean(value: Any) -> Any:
        return value.replace("\x00", "") if type(value) is str else value

    if isinstance(row, dict):
        return {key: clean(value) for key, value in row.items()}
    return type(row)(clean(value) for value in row)


def _without_nul(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """PostgreSQL refuses the NUL character in text ("invalid byte sequence for encoding
    UTF8: 0x00"), which a Telegram message may carry; it means nothing in a text and is
    dropped from what is written or looked for, instead of failing the statement."""
    if not parameters:
        return statement, parameters
    # several rows: a list of rows; but a batch of INSERT … RETURNING rows (SQLAlchemy's
    # "insertmanyvalues") comes as one statement whose values are flat, still "executemany"
    if executemany and isinstance(parameters[0], dict | tuple | list):
        if any(_has_nul(row) for row in parameters):
            parameters = type(parameters)(_scrub(row) for row in parameters)
    elif _has_nul(parameters):
        parameters = _scrub(parameters)
    return statement, parameters


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


def engine_of(sessions: SessionFactory) -> AsyncEngine:
    """The engine a session factory of :func:`session_factory` is bound to."""
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)  # session_factory binds an engine, nothing else
    return bind


@contextlib.asynccontextmanager
async def outside_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads of one statement each, outside any transaction: on PostgreSQL
    an autocommit connection sends the statement alone, where a session sends BEGIN before
    it and ROLLBACK after (three round trips, and the CPU of each, for one read). SQLite
    opens no transaction for a read anyway. Nothing written through it can be rolled back."""
    async with engine.connect() as connection:
        if is_postgres(engine):
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def _let_aiosqlite_threads_finish() -> None:
    """Waits (briefly) for the worker thread of a connection that failed to open.

    aiosqlite stops that thread by queueing a close whose result it hands back to the event
    loop; when the command then exits at once, the loop is closed first and the thread
    prints "RuntimeError: Event loop is closed" after our one-line message."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name and thread.is_alive():
            await asyncio.to_thread(thread.join, 0.5)


async def connect_or_explain(engine: AsyncEngine) -> AsyncConnection:
    """A connection, or DatabaseUnreachable saying in one line where and why not."""
    try:
        return await engine.connect()
    except _CONNECT_ERRORS as error:
        if engine.dialect.name == "sqlite":
            await _let_aiosqlite_threads_finish()
        where = engine.url.render_as_string(hide_password=True)
        cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
        reason = " ".join(str(cause).split()) or type(cause).__name__
        raise DatabaseUnreachable(
            f"cannot reach the database at {where} ({type(cause).__name__}: {reason[:300]})"
        ) from None


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the Alembic migrations."""
    connection = await connect_or_explain(engine)
    sqlite = engine.dialect.name == "sqlite"
    try:
        if sqlite:
            # a migration that rebuilds a table (SQLite's ALTER TABLE) drops the old one:
            # with foreign keys on, that would delete every row referring to it (ON DELETE
            # CASCADE). The pragma is no-op inside a transaction: set before it begins.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        async with connection.begin():
            await connection.run_sync(_upgrade, revision)
        if sqlite:
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            await connection.commit()
            if broken:
                raise RuntimeError(f"migration left rows referring to nothing: {broken[:5]}")
    finally:
        await connection.close()


async def execute_alone(engine: AsyncEngine, statement: Executable) -> list[Any]:
    """One write that is a transaction by itself; the rows it returns (``RETURNING``). On
    PostgreSQL an autocommit statement: one round trip, where a session sends BEGIN, the
    statement and COMMIT (and runs the ORM's unit of work). Elsewhere BEGIN … COMMIT."""
    if is_postgres(engine):
        async with outside_transaction(engine) as connection:
            result = await connection.execute(statement)
            return list(result.all()) if result.returns_rows else []
    async with engine.begin() as connection:
        result = await connection.execute(statement)
        return list(result.all()) if result.returns_rows else []


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def affected(result: object) -> int:
    """Rows an UPDATE, DELETE or INSERT touched. ``session.execute`` is typed as returning a
    plain ``Result``; for these statements it is a ``CursorResult``, whose ``rowcount`` this
    reads (0 when the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)
