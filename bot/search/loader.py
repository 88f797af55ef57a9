"""Reading the documents to index from the database (SQLAlchemy 2, async).

Items are read by keyset pagination on their id, in short separate transactions: a
million items never sit in memory as rows, and a long read does not hold the database
(SQLite) against the importer of another process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.search.documents import Document, RowData, faq_document, item_document, resource_document
from storage.models import FaqEntry, Item, Meta, Resource

CATALOGUE_VERSION_KEY = "catalogue_version"
CATALOGUE_ID_KEY = "catalogue_id"
ITEM_BATCH_SIZE = 2000

SessionFactory = async_sessionmaker[AsyncSession]
RowBatch = tuple[Callable[[RowData], Document], Sequence[RowData]]

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


@dataclass(frozen=True, slots=True)
class CatalogueState:
    """Which catalogue (a random id, new with each database) at which version."""

    catalogue_id: str | None
    version: int

    def meta(self) -> dict[str, object]:
        return {"catalogue_id": self.catalogue_id, "version": self.version}


async def read_catalogue_state(session_factory: SessionFactory) -> CatalogueState:
    async with session_factory() as session:
        rows = await session.execute(
            select(Meta.key, Meta.value).where(
                Meta.key.in_((CATALOGUE_VERSION_KEY, CATALOGUE_ID_KEY))
            )
        )
        values = dict(rows.all())
    version = int(values.get(CATALOGUE_VERSION_KEY) or 0)
    return CatalogueState(values.get(CATALOGUE_ID_KEY), version)


async def next_catalogue_revision(conn: AsyncConnection) -> int:
    """The version the rows written now carry (``revision``): the next one."""
    current = await conn.scalar(select(Meta.value).where(Meta.key == CATALOGUE_VERSION_KEY))
    return int(current or 0) + 1


async def bump_catalogue_version(conn: AsyncConnection, at_least: int = 0) -> int:
    """Moves ``catalogue_version`` on (to ``at_least`` if higher), inside the caller's
    transaction; the first bump also names the catalogue. Returns the new version.

    Running bots compare it with their index's and index the rows whose ``revision`` is
    above their version (``iter_changed_batches``).
    """
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    version = max(await next_catalogue_revision(conn), at_least)
    statement = insert(Meta).values(key=CATALOGUE_VERSION_KEY, value=str(version))
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[Meta.__table__.c.key], set_={"value": str(version)}
        )
    )
    await conn.execute(
        insert(Meta).values(key=CATALOGUE_ID_KEY, value=uuid.uuid4().hex).on_conflict_do_nothing()
    )
    return version


async def count_changed(session_factory: SessionFactory, since: int) -> int:
    """How many catalogue rows were written after version ``since``."""
    total = 0
    async with session_factory() as session:
        for model in (Resource, FaqEntry, Item):
            total += (
                await session.scalar(
                    select(func.count()).select_from(model).where(model.revision > since)
                )
                or 0
            )
    return total


async def iter_changed_batches(
    session_factory: SessionFactory, since: int, batch_size: int = ITEM_BATCH_SIZE
) -> AsyncIterator[RowBatch]:
    """Like ``iter_row_batches``, only the rows written after version ``since`` (and the
    FAQ entries of a changed resource, which take their media type from it)."""
    async with session_factory() as session:
        resources = (
            await session.execute(select(*_RESOURCE_COLUMNS).where(Resource.revision > since))
        ).all()
        media_of_resource = dict(
            (await session.execute(select(Resource.id, Resource.media_type))).all()
        )
        changed_resources = [row.id for row in resources]
        faq_changed = FaqEntry.revision > since
        if changed_resources:
            faq_changed = or_(faq_changed, FaqEntry.resource_id.in_(changed_resources))
        faq = (await session.execute(select(*_FAQ_COLUMNS).where(faq_changed))).all()
    yield resource_document, [row._mapping for row in resources]
    yield (lambda row: faq_document(row, media_of_resource)), [row._mapping for row in faq]
    last: tuple[int, str] | None = None
    while True:
        query = (
            select(*_ITEM_COLUMNS, Item.revision)
            .where(Item.revision > since)
            .order_by(Item.revision, Item.id)
            .limit(batch_size)
        )
        if last is not None:
            query = query.where(tuple_(Item.revision, Item.id) > tuple_(*last))
        async with session_factory() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return
        yield item_document, [row._mapping for row in rows]
        if len(rows) < batch_size:
            return
        last = (rows[-1].revision, rows[-1].id)


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
