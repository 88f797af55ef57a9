"""The network's libraries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from storage.db import SessionFactory
from storage.models import Library


@dataclass(frozen=True, slots=True)
class LibraryPage:
    libraries: list[Library]
    page: int
    pages: int


class LibraryService:
    PAGE_SIZE = 8

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def page(self, page: int) -> LibraryPage:
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(Library)) or 0
            pages = max(1, -(-total // self.PAGE_SIZE))
            page = min(max(page, 0), pages - 1)
            rows = await session.scalars(
                select(Library)
                .order_by(Library.commune, Library.name)
                .offset(page * self.PAGE_SIZE)
                .limit(self.PAGE_SIZE)
            )
            return LibraryPage(list(rows), page, pages)

    async def get(self, library_id: str | None) -> Library | None:
        if not library_id:
            return None
        async with self._sessions() as session:
            return await session.get(Library, library_id)

    async def all(self) -> list[Library]:
        async with self._sessions() as session:
            return list(await session.scalars(select(Library).order_by(Library.name)))
