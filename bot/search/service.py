"""The search as the bot uses it: one current index, rebuilt without stopping the bot."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.search.index import Hit, IndexBuilder, SearchIndex
from bot.search.loader import (
    ITEM_BATCH_SIZE,
    SessionFactory,
    documents_of,
    iter_row_batches,
    read_catalogue_version,
)

log = logging.getLogger(__name__)

INLINE_SEARCH_MAX_ROWS = 20_000
"""Smaller indexes answer in well under a millisecond: searched on the event loop."""


class SearchService:
    """Holds the current ``SearchIndex`` and follows the catalogue of the database.

    Building runs in a worker thread, batch by batch while the rows are read; the new
    index replaces the old one in one assignment, so searches never see half an index.
    """

    def __init__(
        self, session_factory: SessionFactory, *, batch_size: int = ITEM_BATCH_SIZE
    ) -> None:
        self._session_factory = session_factory
        self._batch_size = batch_size
        self._index: SearchIndex | None = None
        self._version: str | None = None
        self._reload_lock = asyncio.Lock()

    @property
    def index(self) -> SearchIndex | None:
        return self._index

    @property
    def catalogue_version(self) -> str | None:
        """The ``catalogue_version`` the current index was built from."""
        return self._version

    async def reload(self) -> SearchIndex:
        """Rebuild the index from the database and make it current."""
        async with self._reload_lock:
            return await self._rebuild()

    async def _rebuild(self) -> SearchIndex:
        started = time.perf_counter()
        # Read before the rows: an import that lands meanwhile leaves a newer version
        # behind, and the next refresh_if_changed() builds again.
        version = await read_catalogue_version(self._session_factory)
        builder = IndexBuilder()
        async for batch in iter_row_batches(self._session_factory, self._batch_size):
            await asyncio.to_thread(builder.add_all, documents_of(batch))
        index = await asyncio.to_thread(builder.finish)
        self._index, self._version = index, version
        log.info(
            "search index built: %d documents, catalogue version %s, %.1f s",
            len(index),
            version,
            time.perf_counter() - started,
        )
        return index

    async def refresh_if_changed(self) -> bool:
        """Rebuild when the importer bumped ``catalogue_version``; True when it did."""
        async with self._reload_lock:
            version = await read_catalogue_version(self._session_factory)
            if self._index is not None and version == self._version:
                return False
            await self._rebuild()
            return True

    async def ensure_loaded(self) -> SearchIndex:
        index = self._index
        if index is None:
            async with self._reload_lock:
                index = self._index or await self._rebuild()
        return index

    async def search(self, query: str, limit: int = 5, media_type: str | None = None) -> list[Hit]:
        """The best hits for a patron's question, best first (see ``ANSWER_THRESHOLD``)."""
        index = await self.ensure_loaded()
        if index.row_count <= INLINE_SEARCH_MAX_ROWS:
            return index.search(query, limit=limit, media_type=media_type)
        return await asyncio.to_thread(index.search, query, limit, media_type)
