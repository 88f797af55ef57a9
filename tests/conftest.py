"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when PLUME_TEST_DATABASE says so).

``PLUME_TEST_DATABASE``: ``sqlite`` (default) or ``postgresql``; the PostgreSQL URL comes from
``PLUME_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
Tests that need both backends use the ``any_database_url`` fixture.

The suite runs on several processes (pytest-xdist, ``-n`` in pyproject.toml): most of a test's
time is spent waiting for the bot, the stand-in or Telegram's pace, not on the CPU. Each
worker gets a PostgreSQL database of its own, named after the configured one, the worker and
the run (``test_gw0_1a2b3c4d``…), created on the same server and dropped when the worker
ends; the configured database itself serves a run on one process (``-n 0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, migrate
from storage.models import Base

BACKEND = os.environ.get("PLUME_TEST_DATABASE", "sqlite").lower()
CONFIGURED_POSTGRES_URL = os.environ.get(
    "PLUME_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
#: pytest-xdist names its workers gw0, gw1…; absent on a run on one process
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(url: str, worker: str) -> str:
    """The configured database for a run on one process, else one database per worker.

    The name carries the run's id (xdist's, shared by its workers): two runs at once on one
    server (two checkouts) never share, nor drop, each other's databases.
    """
    if not worker:
        return url
    parsed = make_url(url)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]
    name = f"{parsed.database}_{worker}_{run}"
    return parsed.set(database=name).render_as_string(hide_password=False)


POSTGRES_URL = _worker_url(CONFIGURED_POSTGRES_URL, WORKER)
_pg_state: dict[str, object] = {}
#: the advisory-lock key that serialises test runs sharing one PostgreSQL database
_TEST_DATABASE_LOCK = 0x504C554D

pytest_plugins = ["tests.kit"]


def pytest_report_header(config: pytest.Config) -> str:
    where = POSTGRES_URL if BACKEND == "postgresql" else "a temporary SQLite file per test"
    return f"plume database: {BACKEND} ({where})"


def _admin_dsn() -> str:
    """The configured server's maintenance database, for creating a worker's database."""
    url = make_url(CONFIGURED_POSTGRES_URL).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


async def _create_worker_database() -> None:
    """The worker's own database, made when missing (CREATE DATABASE has no IF NOT EXISTS)."""
    name = make_url(POSTGRES_URL).database
    connection = await asyncpg.connect(_admin_dsn())
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not found:
            # another run of the same worker name may win the race
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await connection.execute(f'CREATE DATABASE "{name}"')
        _pg_state["created"] = name
    finally:
        await connection.close()


async def _drop_worker_database() -> None:
    connection = await asyncpg.connect(_admin_dsn())
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{_pg_state["created"]}" WITH (FORCE)')
    finally:
        await connection.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker drops the database it created: nothing is left on the server after a run."""
    if "created" in _pg_state:
        asyncio.run(_drop_worker_database())


async def _postgres_ready() -> str | None:
    """None when the server answers, else why not."""
    if "ready" in _pg_state:
        return _pg_state["ready"]  # type: ignore[return-value]
    if WORKER:
        try:
            await _create_worker_database()
        except Exception as error:
            reason = f"PostgreSQL not reachable at {_admin_dsn()}: {type(error).__name__}: {error}"
            _pg_state["ready"] = reason
            return reason
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        reason = None
    except Exception as error:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}: {error}"
    finally:
        await engine.dispose()
    _pg_state["ready"] = reason
    return reason


async def _schema_version(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:  # no schema yet, or one another run is rebuilding
        return None


async def _reset_postgres() -> None:
    """Migrate when the schema is not this run's, then empty every table for each test.

    Another checkout's test run (another branch, other migrations) may have rebuilt the
    shared database since this run's last test: the Alembic version says so.
    """
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        version = await _schema_version(engine)
        if version is None or version != _pg_state.get("migrated"):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await migrate(engine)
            _pg_state["migrated"] = await _schema_version(engine)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def _hold_postgres() -> asyncpg.Connection:
    """Hold the test database for this test: two test runs on one server wait for each other.

    A session-level advisory lock on a connection of its own, released when the test ends
    (or when the process dies): the tests empty the database, so two runs must not overlap.
    """
    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    await connection.execute("SELECT pg_advisory_lock($1)", _TEST_DATABASE_LOCK)
    return connection


async def fresh_database(backend: str, tmp_path: Path) -> str:
    if backend == "postgresql":
        reason = await _postgres_ready()
        if reason:
            pytest.skip(reason)
        await _reset_postgres()
        return POSTGRES_URL
    url = f"sqlite+aiosqlite:///{tmp_path / 'plume-test.sqlite3'}"
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return url


async def _database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    holder = None
    if backend == "postgresql" and await _postgres_ready() is None:
        holder = await _hold_postgres()
    try:
        yield await fresh_database(backend, tmp_path)
    finally:
        if holder is not None:
            await holder.close()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database of the backend chosen for this run."""
    async for url in _database(BACKEND, tmp_path):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs on SQLite and on PostgreSQL (skipped when unreachable)."""
    async for url in _database(request.param, tmp_path):
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's .env or real settings."""
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PLUME_")) and not name.startswith("PLUME_TEST_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
