"""The network's libraries."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from storage.db import SessionFactory
from storage.models import Library


@dataclass(frozen=True, slots=True)
class LibraryPage:
    libraries: list[Library]
    page: int
    pages: int


def sort_key(text: str) -> str:
    """``Étang`` sorts with ``Etang``, whatever the database's collation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class LibraryService:
    PAGE_SIZE = 8

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def page(self, page: int) -> LibraryPage:
        """Libraries in alphabetical order of commune (accents ignored, as people expect)."""
        libraries = sorted(
            await self.all(), key=lambda lib: (sort_key(lib.commune), sort_key(lib.name))
        )
        pages = max(1, -(-len(libraries) // self.PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        start = page * self.PAGE_SIZE
        return LibraryPage(libraries[start : start + self.PAGE_SIZE], page, pages)

    async def get(self, library_id: str | None) -> Library | None:
        if not library_id:
            return None
        async with self._sessions() as session:
            return await session.get(Library, library_id)

    async def all(self) -> list[Library]:
        async with self._sessions() as session:
            return list(await session.scalars(select(Library).order_by(Library.name)))
