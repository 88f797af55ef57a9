from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.search import SearchIndex, documents_from_rows
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import FaqEntry, Item, Meta, Resource
from tests.search.catalogue import FAQ, ITEMS, RESOURCES


@pytest.fixture(scope="session")
def index() -> SearchIndex:
    return SearchIndex.build(documents_from_rows(RESOURCES, FAQ, ITEMS))


def _item_row(row: dict[str, str]) -> dict[str, object]:
    return {**row, "year": int(row["year"]) if row["year"] else None}


@pytest.fixture
async def catalogue_db(database_url: str) -> AsyncIterator[SessionFactory]:
    """The fixture catalogue in a migrated database (SQLite, or PostgreSQL for that run)."""
    engine = create_engine(database_url)
    factory = session_factory(engine)
    async with factory.begin() as session:
        session.add_all(Resource(**row) for row in RESOURCES)
        await session.flush()
        session.add_all(
            FaqEntry(**{**row, "resource_id": row["resource_id"] or None}) for row in FAQ
        )
        session.add_all(Item(**_item_row(row)) for row in ITEMS)
        session.add(Meta(key="catalogue_version", value="1"))
    yield factory
    await engine.dispose()
