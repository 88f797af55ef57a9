"""The search as the bot uses it: one current index that follows the catalogue.

At start the index saved beside the catalogue (``index_dir``) is mapped back in a second or
two, even at a million items, then caught up with the rows written since it was saved;
without one (first start, other code) it is built from the database. After that, each
change of ``catalogue_version`` (an import, a FAQ entry added by staff) is applied in
place: only the rows whose ``revision`` is above the index's version are read and
analysed (``LiveIndex.updated``). A rebuild from the database happens only when most of
the catalogue changed, when replaced rows take up too much of the index, or when the
database is another catalogue (``catalogue_id``).

Building and updating run in a worker thread; the new index replaces the old one in one
assignment, so searches never see half an index. Each new index is then saved and replaced
by its memory-mapped snapshot (``LiveIndex.mapped``), and the memory its own arrays took is
given back (``release_freed_memory``): memory stays flat across updates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bot.search.documents import Document
from bot.search.index import Hit, IndexBuilder, SearchIndex
from bot.search.live import LiveIndex, release_freed_memory
from bot.search.loader import (
    ITEM_BATCH_SIZE,
    CatalogueState,
    SessionFactory,
    count_changed,
    documents_of,
    iter_changed_batches,
    iter_row_batches,
    read_catalogue_state,
)

log = logging.getLogger(__name__)

INLINE_SEARCH_MAX_ROWS = 20_000
"""Smaller indexes answer in well under a millisecond: searched on the event loop."""
REBUILD_CHANGED_SHARE = 0.3
"""When more than this share of the documents changed, a rebuild is cheaper than updates."""
REBUILD_DEAD_SHARE = 0.25
"""When replaced rows are more than this share of the index, it is rebuilt (memory)."""


@dataclass(frozen=True, slots=True)
class IndexEvent:
    """What the last change of the index was, for logs and benchmarks."""

    kind: str  # "loaded", "built", "updated"
    documents: int  # documents read and analysed (all of them for "built")
    seconds: float


class SearchService:
    """Holds the current index and follows the catalogue of the database."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        batch_size: int = ITEM_BATCH_SIZE,
        index_dir: Path | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._batch_size = batch_size
        self._index_dir = index_dir
        self._live: LiveIndex | None = None
        self._state: CatalogueState | None = None
        self._saved: CatalogueState | None = None
        self._reload_lock = asyncio.Lock()
        self.last_event: IndexEvent | None = None

    @property
    def index(self) -> SearchIndex | None:
        live = self._live
        return live.index if live is not None else None

    @property
    def live_index(self) -> LiveIndex | None:
        return self._live

    @property
    def catalogue_version(self) -> str | None:
        """The ``catalogue_version`` the current index follows."""
        return str(self._state.version) if self._state and self._state.version else None

    async def reload(self) -> SearchIndex:
        """Rebuild the index from the database and make it current."""
        async with self._reload_lock:
            return await self._rebuild()

    async def _rebuild(self) -> SearchIndex:
        started = time.perf_counter()
        # Read before the rows: an import that lands meanwhile leaves a newer version
        # behind, and the next refresh_if_changed() catches up with it.
        state = await read_catalogue_state(self._session_factory)
        builder = IndexBuilder()
        async for batch in iter_row_batches(self._session_factory, self._batch_size):
            await asyncio.to_thread(builder.add_all, documents_of(batch))
        live = await asyncio.to_thread(LiveIndex.from_segment, builder.lexicon, builder.segment())
        del builder
        self._live, self._state = live, state
        elapsed = time.perf_counter() - started
        self.last_event = IndexEvent("built", live.document_count, elapsed)
        log.info(
            "search index built: %d documents, catalogue version %s, %.1f s",
            live.document_count,
            state.version,
            elapsed,
        )
        del live  # the saved copy replaces it (``_save``)
        await self._save()
        assert self._live is not None
        return self._live.index

    async def _load_saved(self) -> bool:
        """Maps the saved index back and catches up; False when there is none to use."""
        if self._index_dir is None:
            return False
        started = time.perf_counter()
        loaded = await asyncio.to_thread(LiveIndex.load, self._index_dir)
        if loaded is None:
            return False
        live, meta = loaded
        catalogue_id = meta.get("catalogue_id")
        state = CatalogueState(
            catalogue_id if isinstance(catalogue_id, str) else None,
            int(str(meta.get("version") or 0)),
        )
        current = await read_catalogue_state(self._session_factory)
        if state.catalogue_id != current.catalogue_id or state.version > current.version:
            log.info("saved search index is of another catalogue: rebuilding")
            return False
        self._live, self._state = live, state
        self._saved = state
        log.info(
            "search index loaded: %d documents, catalogue version %s, %.1f s",
            live.document_count,
            state.version,
            time.perf_counter() - started,
        )
        self.last_event = IndexEvent("loaded", 0, time.perf_counter() - started)
        if current.version != state.version:
            await self._catch_up(current)
        return True

    async def _catch_up(self, current: CatalogueState) -> bool:
        """Applies the rows written after the index's version; True when it did."""
        live, state = self._live, self._state
        assert live is not None and state is not None
        if current.catalogue_id != state.catalogue_id:
            await self._rebuild()
            return True
        started = time.perf_counter()
        changed = await count_changed(self._session_factory, state.version)
        if changed > REBUILD_CHANGED_SHARE * max(live.document_count, 1):
            await self._rebuild()
            return True
        documents: list[Document] = []
        async for batch in iter_changed_batches(
            self._session_factory, state.version, self._batch_size
        ):
            documents.extend(documents_of(batch))
        updated = await asyncio.to_thread(live.updated, documents)
        self._live, self._state = updated, current
        del live  # not kept alive while the update is saved
        elapsed = time.perf_counter() - started
        self.last_event = IndexEvent("updated", len(documents), elapsed)
        log.info(
            "search index updated: %d documents read again, catalogue version %s, %.2f s",
            len(documents),
            current.version,
            elapsed,
        )
        if updated.dead_share > REBUILD_DEAD_SHARE:
            await self._rebuild()
        else:
            await self._save()
        return True

    async def _save(self) -> None:
        """After a build or an update: saves the index, makes its memory-mapped snapshot
        current (``LiveIndex.mapped``) and gives the memory of its own arrays back, so that
        memory stays flat across updates."""
        live, state = self._live, self._state
        directory = self._index_dir
        if directory is not None and live is not None and state not in (None, self._saved):
            assert state is not None
            try:
                folder = await asyncio.to_thread(live.save, directory, state.meta())
                mapped = await asyncio.to_thread(live.mapped, folder)
            except (OSError, ValueError) as error:
                log.warning("search index not saved in %s: %s", directory, error)
            else:
                self._saved = state
                if self._live is live:  # always, under the lock: nothing else changes it
                    self._live = mapped
                del mapped
        # The build's or the update's private arrays go with ``live`` (a search still
        # running on it holds it a little longer).
        del live
        await asyncio.to_thread(release_freed_memory)

    async def refresh_if_changed(self) -> bool:
        """Follows ``catalogue_version`` (imports, FAQ edits); True when the index changed."""
        async with self._reload_lock:
            if self._live is None:
                await self._start()
                return True
            current = await read_catalogue_state(self._session_factory)
            if current == self._state:
                return False
            return await self._catch_up(current)

    async def _start(self) -> None:
        if not await self._load_saved():
            await self._rebuild()

    async def ensure_loaded(self) -> SearchIndex:
        live = self._live
        if live is None:
            async with self._reload_lock:
                if self._live is None:
                    await self._start()
                live = self._live
        assert live is not None
        return live.index

    async def search(self, query: str, limit: int = 5, media_type: str | None = None) -> list[Hit]:
        """The best hits for a patron's question, best first (see ``ANSWER_THRESHOLD``)."""
        index = await self.ensure_loaded()
        if index.row_count <= INLINE_SEARCH_MAX_ROWS:
            return index.search(query, limit=limit, media_type=media_type)
        return await asyncio.to_thread(index.search, query, limit, media_type)
