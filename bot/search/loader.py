"""Reading the documents to index from the database (SQLAlchemy 2, async).

Items are read by keyset pagination on their id, in short separate transactions: a
million items never sit in memory as rows, and a long read does not hold the database
(SQLite) against the importer of another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.search.documents import Document, faq_document, item_document, resource_document
from storage.models import FaqEntry, Item, Meta, Resource

CATALOGUE_VERSION_KEY = "catalogue_version"
ITEM_BATCH_SIZE = 2000

SessionFactory = async_sessionmaker[AsyncSession]
RowBatch = tuple[Callable[[Mapping[str, Any]], Document], list[Mapping[str, Any]]]

_RESOURCE_COLUMNS = (
    Resource.id,
    Resource.media_type,
    Resource.name,
    Resource.description,
    Resource.access,
    Resource.keywords,
)
_FAQ_COLUMNS = (
    FaqEntry.id,
    FaqEntry.question,
    FaqEntry.answer,
    FaqEntry.alternatives,
    FaqEntry.resource_id,
)
_ITEM_COLUMNS = (
    Item.id,
    Item.resource_id,
    Item.media_type,
    Item.title,
    Item.creator,
    Item.year,
    Item.genres,
)


async def read_catalogue_version(session_factory: SessionFactory) -> str | None:
    """The ``catalogue_version`` the importer bumps after each import (None before any)."""
    async with session_factory() as session:
        return await session.scalar(select(Meta.value).where(Meta.key == CATALOGUE_VERSION_KEY))


async def iter_row_batches(
    session_factory: SessionFactory, batch_size: int = ITEM_BATCH_SIZE
) -> AsyncIterator[RowBatch]:
    """Batches of raw rows, each with the function that makes them documents.

    Turning rows into documents is left to the caller so that it can do it in a worker
    thread; resources come first, as FAQ entries take their media type from them.
    """
    async with session_factory() as session:
        resources = (await session.execute(select(*_RESOURCE_COLUMNS).order_by(Resource.id))).all()
        faq = (await session.execute(select(*_FAQ_COLUMNS).order_by(FaqEntry.id))).all()
    resource_rows = [row._mapping for row in resources]
    yield resource_document, resource_rows
    media_of_resource = {row["id"]: row["media_type"] for row in resource_rows}
    yield (lambda row: faq_document(row, media_of_resource)), [row._mapping for row in faq]
    last_id: str | None = None
    while True:
        query = select(*_ITEM_COLUMNS).order_by(Item.id).limit(batch_size)
        if last_id is not None:
            query = query.where(Item.id > last_id)
        async with session_factory() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return
        yield item_document, [row._mapping for row in rows]
        if len(rows) < batch_size:
            return
        last_id = rows[-1].id


def documents_of(batch: RowBatch) -> Iterable[Document]:
    make, rows = batch
    return map(make, rows)


async def load_documents(
    session_factory: SessionFactory, batch_size: int = ITEM_BATCH_SIZE
) -> list[Document]:
    """Every document of the database, in memory (for tools and tests; the service streams)."""
    documents: list[Document] = []
    async for batch in iter_row_batches(session_factory, batch_size):
        documents.extend(documents_of(batch))
    return documents
