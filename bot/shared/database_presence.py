"""Is there a Plume database at ``DATABASE_URL``, with a catalogue in it?

Commands that only read (``ask``, ``report``) must not create a database by connecting to
it (SQLite creates a missing file on connect), nor answer "nothing found" from an empty
one: they say what is missing in one line and exit non-zero instead.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import connect_or_explain, create_engine
from storage.models import FaqEntry, Item, Library, Resource

IMPORT_HINT = "import a catalogue first: python -m bot import DIR (or --demo)"


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist (None otherwise, or not SQLite)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return None
    database = sa_url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


async def why_unusable(engine: AsyncEngine) -> str | None:
    """None when the database has Plume's schema and a catalogue; else what is wrong.

    A database that cannot be reached raises ``DatabaseUnreachable`` (exit 2, naming
    DATABASE_URL, like every command)."""
    conn = await connect_or_explain(engine)
    try:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        if "alembic_version" not in tables or "libraries" not in tables:
            return f"the database has no Plume tables: {IMPORT_HINT}"
        for model in (Library, Resource, Item, FaqEntry):
            if await conn.scalar(select(func.count()).select_from(model)):
                return None
    finally:
        await conn.close()
    return f"the database is empty (no library, resource, item nor FAQ entry): {IMPORT_HINT}"


async def check_existing_database(url: str) -> str | None:
    """Why a read-only command cannot use the database at ``url`` (None: it can)."""
    missing = missing_sqlite_file(url)
    if missing is not None:
        return f"no database at {missing}: {IMPORT_HINT}"
    engine = create_engine(url)
    try:
        return await why_unusable(engine)
    finally:
        await engine.dispose()
