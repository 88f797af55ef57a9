"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when PLUME_TEST_DATABASE says so).

``PLUME_TEST_DATABASE``: ``sqlite`` (default) or ``postgresql``; the PostgreSQL URL comes from
``PLUME_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
Tests that need both backends use the ``any_database_url`` fixture.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, migrate
from storage.models import Base

BACKEND = os.environ.get("PLUME_TEST_DATABASE", "sqlite").lower()
POSTGRES_URL = os.environ.get(
    "PLUME_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_pg_state: dict[str, object] = {}

pytest_plugins = ["tests.kit"]


def pytest_report_header(config: pytest.Config) -> str:
    where = POSTGRES_URL if BACKEND == "postgresql" else "a temporary SQLite file per test"
    return f"plume database: {BACKEND} ({where})"


async def _postgres_ready() -> str | None:
    """None when the server answers, else why not."""
    if "ready" in _pg_state:
        return _pg_state["ready"]  # type: ignore[return-value]
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


async def _reset_postgres() -> None:
    """Migrate once per run, then empty every table for each test."""
    engine = create_engine(POSTGRES_URL, pool_size=1)
    try:
        if not _pg_state.get("migrated"):
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await migrate(engine)
            _pg_state["migrated"] = True
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


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


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """A migrated, empty database of the backend chosen for this run."""
    return await fresh_database(BACKEND, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL (skipped when unreachable)."""
    return await fresh_database(request.param, tmp_path)


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
