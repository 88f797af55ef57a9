from __future__ import annotations

import asyncio

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.search import SearchService, load_documents, read_catalogue_version
from storage.models import Item, Meta
from tests.search.catalogue import FAQ, ITEMS, RESOURCES

SessionFactory = async_sessionmaker[AsyncSession]


async def test_load_documents_reads_everything_in_batches(catalogue_db: SessionFactory) -> None:
    documents = await load_documents(catalogue_db, batch_size=5)
    by_type = {
        kind: [d for d in documents if d.type == kind] for kind in ("resource", "faq", "item")
    }
    assert len(by_type["resource"]) == len(RESOURCES)
    assert len(by_type["faq"]) == len(FAQ)
    assert sorted(d.id for d in by_type["item"]) == sorted(row["id"] for row in ITEMS)
    kindle = next(d for d in by_type["faq"] if d.id == "faq-kindle")
    assert kindle.media_type == "ebook"  # from its resource
    assert "kindle" in kindle.alternatives
    mario = next(d for d in by_type["item"] if d.id == "game-mario")
    assert mario.year == 2017 and mario.genres == ("course",)


async def test_service_searches_the_database(catalogue_db: SessionFactory) -> None:
    service = SearchService(catalogue_db, batch_size=7)
    hits = await service.search("jai oublié mon mdp")  # loads on first use
    assert hits[0].id == "faq-mdp"
    assert service.catalogue_version == "1"


async def test_refresh_follows_the_catalogue_version(catalogue_db: SessionFactory) -> None:
    service = SearchService(catalogue_db)
    await service.reload()
    assert await service.refresh_if_changed() is False
    first = service.index

    async with catalogue_db.begin() as session:
        await session.execute(
            update(Item)
            .where(Item.id == "video-chateau")
            .values(title="Mon voisin Totoro", revision=2)
        )
    # Another process is changing the catalogue, the version is not bumped yet: nothing.
    assert await service.refresh_if_changed() is False
    assert (await service.search("totoro")) == [] or service.index is first

    async with catalogue_db.begin() as session:
        await session.execute(
            update(Meta).where(Meta.key == "catalogue_version").values(value="2")
        )
    assert await service.refresh_if_changed() is True
    assert service.index is not first
    assert service.catalogue_version == "2"
    assert (await service.search("totoro"))[0].id == "video-chateau"
    assert await read_catalogue_version(catalogue_db) == "2"


async def test_search_goes_on_while_reloading(catalogue_db: SessionFactory) -> None:
    service = SearchService(catalogue_db, batch_size=3)
    await service.reload()
    reload = asyncio.create_task(service.reload())
    hits = await service.search("okapi")
    await reload
    assert hits[0].id == "press-okapi"
    assert (await service.search("okapi"))[0].id == "press-okapi"


async def test_missing_version_row_is_a_version_too(catalogue_db: SessionFactory) -> None:
    async with catalogue_db.begin() as session:
        await session.execute(Meta.__table__.delete())
    service = SearchService(catalogue_db)
    await service.reload()
    assert service.catalogue_version is None
    assert await service.refresh_if_changed() is False
